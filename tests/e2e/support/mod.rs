//! Helpers for tests that run the `bazaar` binary.

// Each test binary uses some of these.
#![allow(dead_code)]

use std::{
    io::{Read, Write},
    net::{TcpListener, TcpStream},
    process::{Command, Output},
    time::Duration,
};

/// The `bazaar` binary built for this test run.
pub(crate) fn bazaar() -> Command {
    let mut command = Command::new(env!("CARGO_BIN_EXE_bazaar"));
    command.current_dir(env!("CARGO_MANIFEST_DIR"));
    command
}

/// Runs it and returns stdout, failing the test with stderr when it fails.
pub(crate) fn run_ok(command: &mut Command) -> String {
    let output: Output = command.output().expect("bazaar runs");
    assert!(
        output.status.success(),
        "bazaar failed: {}\n{}",
        String::from_utf8_lossy(&output.stdout),
        String::from_utf8_lossy(&output.stderr)
    );
    String::from_utf8(output.stdout).unwrap()
}

/// A loopback port nobody listens on right now.
pub(crate) fn free_port() -> u16 {
    TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port()
}

/// A plain HTTP/1.1 GET; returns the status code and body, or None if nothing listens.
pub(crate) fn get(port: u16, path: &str) -> Option<(u16, String)> {
    let mut stream = TcpStream::connect(("127.0.0.1", port)).ok()?;
    stream
        .set_read_timeout(Some(Duration::from_secs(10)))
        .ok()?;
    write!(
        stream,
        "GET {path} HTTP/1.1\r\nHost: localhost\r\nConnection: close\r\n\r\n"
    )
    .ok()?;
    let mut response = String::new();
    stream.read_to_string(&mut response).ok()?;
    let status = response.split(' ').nth(1)?.parse().ok()?;
    let body = response
        .split_once("\r\n\r\n")
        .map(|(_, b)| b.to_owned())
        .unwrap_or_default();
    Some((status, body))
}

/// A file under the target directory, removed on drop.
pub(crate) struct TempFile(pub(crate) std::path::PathBuf);

impl TempFile {
    pub(crate) fn with(name: &str, text: &str) -> Self {
        let path = std::path::Path::new(env!("CARGO_TARGET_TMPDIR")).join(name);
        std::fs::write(&path, text).unwrap();
        Self(path)
    }
}

impl Drop for TempFile {
    fn drop(&mut self) {
        let _ = std::fs::remove_file(&self.0);
    }
}

pub(crate) mod analytics_day;

pub(crate) mod mesh {

    //! Real databases, topics and events for tests: each test makes its own.

    use std::{collections::HashMap, time::Duration};

    use bazaar_platform::{
        db, kafka,
        outbox::{self, NewEvent},
        Settings,
    };
    use bazaar_schemas::{events, Catalogue, CloudEvent};
    use rdkafka::{
        admin::{AdminOptions, NewTopic, TopicReplication},
        consumer::{Consumer, StreamConsumer},
        Message,
    };
    use serde_json::json;
    use sqlx::{migrate::Migrator, PgConnection, PgPool};
    use uuid::Uuid;

    pub(crate) fn settings() -> Settings {
        Settings::from_env().expect("valid BAZAAR_* variables")
    }

    /// One tenant's services, each on a database of its own, all trusting one issuer.
    pub(crate) struct Tenant {
        pub(crate) issuer: bazaar_platform::testing::TestIssuer,
        pub(crate) id: Uuid,
    }

    impl Tenant {
        /// A new tenant.
        pub(crate) fn new() -> Self {
            Self {
                issuer: bazaar_platform::testing::TestIssuer::new(),
                id: Uuid::new_v4(),
            }
        }

        /// `service`, as its descriptor builds it.
        pub(crate) async fn start(
            &self,
            service: &bazaar_platform::service::Service,
        ) -> bazaar_platform::testing::TestService {
            bazaar_platform::testing::TestService::start_for(
                service.name,
                (service.migrator)(),
                service.router,
                &self.issuer,
                self.id,
            )
            .await
        }

        /// Sales, asking `inventory` and `partners` (served on ports of their own) for
        /// stock and credit, its live feed on `live_topics` (the configured ones if none).
        pub(crate) async fn sales(
            &self,
            inventory: &bazaar_platform::testing::TestService,
            partners: &bazaar_platform::testing::TestService,
            live_topics: Option<Vec<String>>,
        ) -> bazaar_platform::testing::TestService {
            let mut config = settings();
            config.inventory_url = inventory.listen().await;
            config.partners_url = partners.listen().await;
            if let Some(topics) = live_topics {
                config.pos_live_topics = topics;
            }
            let service = &bazaar_sales::DESCRIPTOR;
            bazaar_platform::testing::TestService::start_with(
                service.name,
                (service.migrator)(),
                service.router,
                &self.issuer,
                self.id,
                config,
            )
            .await
        }
    }

    /// `service`'s own tables folded again by `F` from `topic`, compared with the live ones.
    pub(crate) async fn replay<F: bazaar_platform::service::DocumentFold>(
        service: &bazaar_platform::testing::TestService,
        topic: &str,
    ) -> bazaar_platform::rebuild::Rebuilt {
        bazaar_platform::rebuild::replay(
            &settings(),
            &service.owner,
            bazaar_platform::service::Documents::<F>::reading(vec![topic.to_owned()]),
            F::TABLES,
            std::time::Duration::from_secs(60),
        )
        .await
        .unwrap()
    }

    /// A request to `service` as its admin.
    pub(crate) async fn call(
        service: &bazaar_platform::testing::TestService,
        method: axum::http::Method,
        path: &str,
        body: Option<serde_json::Value>,
    ) -> bazaar_platform::testing::Reply {
        bazaar_platform::testing::send(&service.app, method, path, Some(&service.admin), body, &[])
            .await
    }

    /// Tells the service behind `service`, through `projection`, that `store` is one of
    /// its tenant's stores, as identity's `identity.store.opened` would.
    pub(crate) async fn store_opened<P: bazaar_platform::consumer::Projection>(
        service: &bazaar_platform::testing::TestService,
        projection: &P,
        store: Uuid,
    ) {
        bazaar_platform::testing::store_opened(&service.owner, projection, service.tenant, store)
            .await;
    }

    /// [`call`], which must succeed: its body.
    pub(crate) async fn ok(
        service: &bazaar_platform::testing::TestService,
        method: axum::http::Method,
        path: &str,
        body: serde_json::Value,
    ) -> serde_json::Value {
        let reply = call(service, method, path, Some(body)).await;
        assert!(reply.status.is_success(), "{path}: {}", reply.body);
        reply.body
    }

    /// Runs the analytics ingest of `topics` into `client`'s database in a consumer group
    /// of its own (returned), with batches of up to `max_wait`, until `stop`.
    pub(crate) fn run_ingest(
        client: &bazaar_platform::clickhouse::Client,
        topics: Vec<String>,
        max_wait: Duration,
        stop: &tokio_util::sync::CancellationToken,
        metrics: bazaar_platform::consumer::ConsumerMetrics,
    ) -> String {
        use bazaar_platform::consumer::{BatchRunner, Batching};
        let ingest = bazaar_analytics::ingest::AnalyticsIngest::new(client.clone(), topics);
        let batching = Batching {
            max_events: 50_000,
            max_wait,
        };
        let group = format!("test-{}", Uuid::new_v4().simple());
        let runner = BatchRunner::new(&settings(), ingest, batching)
            .with_group(group.clone())
            .with_metrics(metrics);
        tokio::spawn(runner.run(stop.clone()));
        group
    }

    /// Runs `projection` into `service`'s database in a consumer group of its own, until
    /// `stop`.
    pub(crate) fn run<P: bazaar_platform::consumer::Projection>(
        projection: P,
        service: &bazaar_platform::testing::TestService,
        stop: &tokio_util::sync::CancellationToken,
    ) {
        let runner = bazaar_platform::consumer::ConsumerRunner::new(
            &settings(),
            service.owner.clone(),
            projection,
        )
        .with_group(format!("test-{}", Uuid::new_v4().simple()));
        tokio::spawn(runner.run(stop.clone()));
    }

    /// A fresh database with the platform's tables (outbox, lease, processed events).
    pub(crate) async fn database() -> (String, PgPool) {
        let name = format!("test_{}", Uuid::new_v4().simple());
        let pool = db::prepare(&settings(), &name, Migrator::DEFAULT)
            .await
            .unwrap();
        (name, pool)
    }

    /// A fresh topic `test_<id>.events.v1` and its dead-letter topic.
    pub(crate) async fn topic(partitions: i32) -> String {
        topic_on(&settings(), partitions).await
    }

    /// The same, on the brokers of `settings`.
    pub(crate) async fn topic_on(settings: &Settings, partitions: i32) -> String {
        let name = format!("test_{}.events.v1", Uuid::new_v4().simple());
        let dlq = format!("{name}.dlq");
        let admin = kafka::admin(settings, "test-admin").unwrap();
        let results = admin
            .create_topics(
                &[
                    NewTopic::new(&name, partitions, TopicReplication::Fixed(1)),
                    NewTopic::new(&dlq, 1, TopicReplication::Fixed(1)),
                ],
                &AdminOptions::new().operation_timeout(Some(Duration::from_secs(10))),
            )
            .await
            .unwrap();
        assert!(results.iter().all(Result::is_ok), "{results:?}");
        name
    }

    /// A `catalog.product.created` payload whose SKU is the aggregate key.
    fn product(key: &str) -> serde_json::Value {
        json!({
            "tenant_id": Uuid::nil(), "product_id": Uuid::new_v4(), "sku": key,
            "name": "Test product", "description": null, "brand": null, "category_id": null,
            "variant_of": null, "attributes": {}, "unit": "piece", "unit_decimals": 0,
            "hsn_code": null, "gst_rate_bp": 1800, "cess_rate_bp": 0, "currency": "INR",
            "mrp_minor": 10_000, "selling_price_minor": 9_000, "tax_inclusive": true,
            "reorder_level": null, "created_at": 1_790_000_000_000_i64,
        })
    }

    /// Appends one `catalog.product.created` about aggregate `key` in `tx`.
    pub(crate) async fn append(tx: &mut PgConnection, topic: &str, key: &str) -> Uuid {
        append_product(tx, topic, key, product(key)).await
    }

    /// Appends and commits a product created event whose description is `description`.
    pub(crate) async fn write_described(
        pool: &PgPool,
        topic: &str,
        key: &str,
        description: &str,
    ) -> Uuid {
        let mut payload = product(key);
        payload["description"] = json!(description);
        let mut tx = pool.begin().await.unwrap();
        let id = append_product(&mut tx, topic, key, payload).await;
        tx.commit().await.unwrap();
        id
    }

    async fn append_product(
        tx: &mut PgConnection,
        topic: &str,
        key: &str,
        payload: serde_json::Value,
    ) -> Uuid {
        let event: events::catalog::ProductCreated = serde_json::from_value(payload).unwrap();
        outbox::append(
            tx,
            NewEvent {
                topic,
                source: "test",
                tenant: Uuid::nil(),
                subject: key,
                event: &event,
            },
        )
        .await
        .unwrap()
    }

    /// Sends one `catalog.product.created` straight to Kafka, as the relay would.
    pub(crate) async fn produce(topic: &str, key: &str) -> Uuid {
        produce_for(topic, key, Uuid::nil()).await
    }

    /// Sends a product created event for aggregate `key` of `tenant`; returns its event id.
    pub(crate) async fn produce_for(topic: &str, key: &str, tenant: Uuid) -> Uuid {
        let schema = Catalogue::embedded()
            .get("catalog.product.created", 1)
            .unwrap();
        let event = CloudEvent::new(schema, "test", key, tenant);
        let payload = schema.encode(&product(key)).unwrap();
        produce_raw(topic, key, &payload, Some(event.to_kafka_headers())).await;
        event.id
    }

    /// Sends arbitrary bytes, with or without headers.
    pub(crate) async fn produce_raw(
        topic: &str,
        key: &str,
        payload: &[u8],
        headers: Option<rdkafka::message::OwnedHeaders>,
    ) {
        let producer = kafka::producer(&settings(), "test-producer").unwrap();
        let mut record = rdkafka::producer::FutureRecord::to(topic)
            .key(key)
            .payload(payload);
        if let Some(headers) = headers {
            record = record.headers(headers);
        }
        producer
            .send(record, Duration::from_secs(10))
            .await
            .map_err(|(e, _)| e)
            .unwrap();
    }

    /// Sends `payload` as the current version of `event_type` with event id `id`, as the relay would.
    pub(crate) async fn publish(
        topic: &str,
        event_type: &str,
        tenant: Uuid,
        id: Uuid,
        payload: &serde_json::Value,
    ) {
        let schema = Catalogue::embedded().current(event_type).unwrap();
        let mut event = CloudEvent::new(schema, "test", "key", tenant);
        event.id = id;
        let bytes = schema.encode(payload).unwrap();
        produce_raw(topic, "key", &bytes, Some(event.to_kafka_headers())).await;
    }

    /// Waits up to 30 s for `check` to hold.
    pub(crate) async fn until(what: &str, mut check: impl AsyncFnMut() -> bool) {
        for _ in 0..300 {
            if check().await {
                return;
            }
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
        panic!("timed out waiting for {what}");
    }

    /// Publishes everything in the outbox of database `name` to `topic` with a real
    /// relay, then stops it. Rows are moved to `topic` first, so a test's events never
    /// reach the shared topics other tests read.
    pub(crate) async fn relay_outbox_to(name: &str, pool: &PgPool, topic: &str) {
        relay_outbox_routed(name, pool, topic, topic).await;
    }

    /// [`relay_outbox_to`], with the audit events to `audit_topic`: as the real relay
    /// keeps them off the domain topics.
    pub(crate) async fn relay_outbox_routed(
        name: &str,
        pool: &PgPool,
        topic: &str,
        audit_topic: &str,
    ) {
        use bazaar_outbox_worker::{Relay, RelayMetrics};
        sqlx::query(
            "UPDATE outbox SET topic = CASE WHEN event_type LIKE 'audit.%' THEN $2 ELSE $1 END",
        )
        .bind(topic)
        .bind(audit_topic)
        .execute(pool)
        .await
        .unwrap();
        let metrics = RelayMetrics::new(bazaar_platform::http::HttpMetrics::new().registry());
        let relay = Relay::new(name, pool.clone(), settings(), metrics);
        let stop = tokio_util::sync::CancellationToken::new();
        let token = stop.clone();
        let running = tokio::spawn(async move { relay.run(token).await });
        until("the outbox published", async || {
            let left: i64 =
                sqlx::query_scalar("SELECT count(*) FROM outbox WHERE published_at IS NULL")
                    .fetch_one(pool)
                    .await
                    .unwrap();
            left == 0
        })
        .await;
        stop.cancel();
        running.await.unwrap();
    }

    /// Waits until `group` has committed `offset` on partition 0 of `topic`.
    pub(crate) async fn wait_committed(group: &str, topic: &str, offset: i64) {
        use rdkafka::{consumer::BaseConsumer, Offset, TopicPartitionList};
        let consumer: BaseConsumer = kafka::client_config(&settings(), "test-offsets")
            .set("group.id", group)
            .create()
            .unwrap();
        let mut partitions = TopicPartitionList::new();
        partitions.add_partition(topic, 0);
        let deadline = tokio::time::Instant::now() + Duration::from_secs(60);
        loop {
            // A fresh cluster answers NotCoordinator while its offsets topic loads.
            let at = consumer
                .committed_offsets(partitions.clone(), Duration::from_secs(5))
                .map(|committed| committed.find_partition(topic, 0).map(|p| p.offset()));
            let at = match at {
                Ok(at) => at,
                Err(err) => {
                    assert!(tokio::time::Instant::now() < deadline, "{group}: {err}");
                    tokio::time::sleep(Duration::from_millis(200)).await;
                    continue;
                }
            };
            if at == Some(Offset::Offset(offset)) {
                return;
            }
            assert!(
                tokio::time::Instant::now() < deadline,
                "{group} committed {at:?}, not {offset}"
            );
            tokio::time::sleep(Duration::from_millis(200)).await;
        }
    }

    /// Every message on `topic` with its headers, read from the start until `count` arrived.
    pub(crate) async fn read_with_headers(
        topic: &str,
        count: usize,
    ) -> Vec<HashMap<String, String>> {
        use rdkafka::message::Headers;
        let consumer = reader(&settings(), topic);
        let mut messages = Vec::new();
        while messages.len() < count {
            let message = tokio::time::timeout(Duration::from_secs(30), consumer.recv())
                .await
                .expect("the message arrives");
            let Ok(message) = message else { continue };
            let headers = message
                .headers()
                .map(|h| {
                    h.iter()
                        .map(|h| {
                            (
                                h.key.to_owned(),
                                String::from_utf8_lossy(h.value.unwrap_or_default()).into_owned(),
                            )
                        })
                        .collect()
                })
                .unwrap_or_default();
            messages.push(headers);
        }
        messages
    }

    /// Appends and commits one event.
    pub(crate) async fn write(pool: &PgPool, topic: &str, key: &str) -> Uuid {
        let mut tx = pool.begin().await.unwrap();
        let id = append(&mut tx, topic, key).await;
        tx.commit().await.unwrap();
        id
    }

    /// One consumed message.
    #[derive(Debug, Clone)]
    pub(crate) struct Received {
        pub(crate) key: String,
        pub(crate) event_id: Uuid,
    }

    /// Reads `topic` from the start until `distinct` different events arrived (duplicates
    /// are kept in the result), or panics after `timeout`.
    pub(crate) async fn consume(topic: &str, distinct: usize, timeout: Duration) -> Vec<Received> {
        consume_from(&settings(), topic, distinct, timeout).await
    }

    /// The same, from the brokers of `settings`.
    pub(crate) async fn consume_from(
        settings: &Settings,
        topic: &str,
        distinct: usize,
        timeout: Duration,
    ) -> Vec<Received> {
        let consumer = reader(settings, topic);
        let mut received = Vec::new();
        let mut seen = std::collections::HashSet::new();
        let deadline = tokio::time::Instant::now() + timeout;
        while seen.len() < distinct {
            let message = tokio::time::timeout_at(deadline, consumer.recv())
                .await
                .unwrap_or_else(|_| {
                    panic!(
                        "only {} of {distinct} events arrived on {topic}",
                        seen.len()
                    )
                });
            // Transient group errors (a coordinator loading) are the client's to retry.
            let Ok(message) = message else { continue };
            let event = CloudEvent::from_kafka_headers(message.headers().unwrap()).unwrap();
            let key = String::from_utf8(message.key().unwrap().to_vec()).unwrap();
            assert_eq!(key, event.subject, "the key is the aggregate id");
            seen.insert(event.id);
            received.push(Received {
                key,
                event_id: event.id,
            });
        }
        received
    }

    /// A consumer of `topic` from its first offset, in a group of its own that commits
    /// nothing: it reads what is there without disturbing anyone.
    pub(crate) fn reader(settings: &Settings, topic: &str) -> StreamConsumer {
        let consumer: StreamConsumer = kafka::client_config(settings, "test-reader")
            .set("group.id", format!("test-{}", Uuid::new_v4()))
            .set("auto.offset.reset", "earliest")
            .set("enable.auto.commit", "false")
            .create()
            .unwrap();
        consumer.subscribe(&[topic]).unwrap();
        consumer
    }

    /// Rows not yet marked published.
    pub(crate) async fn unpublished(pool: &PgPool) -> i64 {
        sqlx::query_scalar("SELECT count(*) FROM outbox WHERE published_at IS NULL")
            .fetch_one(pool)
            .await
            .unwrap()
    }

    /// Waits until every outbox row is marked published, or panics after `timeout`.
    pub(crate) async fn wait_published(pool: &PgPool, timeout: Duration) {
        let deadline = tokio::time::Instant::now() + timeout;
        loop {
            let left = unpublished(pool).await;
            if left == 0 {
                return;
            }
            assert!(
                tokio::time::Instant::now() < deadline,
                "{left} rows still unpublished"
            );
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
    }

    /// Every event id in the outbox, per key, in id order.
    pub(crate) async fn outbox_ids(pool: &PgPool) -> HashMap<String, Vec<Uuid>> {
        let rows: Vec<(String, Uuid)> =
            sqlx::query_as("SELECT key, event_id FROM outbox ORDER BY id")
                .fetch_all(pool)
                .await
                .unwrap();
        let mut by_key: HashMap<String, Vec<Uuid>> = HashMap::new();
        for (key, id) in rows {
            by_key.entry(key).or_default().push(id);
        }
        by_key
    }
}

/// A server process of a test's own, with its files in a directory removed on drop: for
/// tests that stop and start a server without disturbing the shared one.
struct Daemon {
    dir: std::path::PathBuf,
    process: Option<std::process::Child>,
}

impl Daemon {
    fn new(name: &str) -> Self {
        let dir = std::path::Path::new(env!("CARGO_TARGET_TMPDIR"))
            .join(format!("{name}-{}", uuid::Uuid::new_v4().simple()));
        std::fs::create_dir_all(&dir).unwrap();
        Self { dir, process: None }
    }

    /// Starts `command`, its output in `<dir>/server.log`, and waits until `port` listens.
    fn spawn(&mut self, command: &mut Command, port: u16) {
        let log = std::fs::File::create(self.dir.join("server.log")).unwrap();
        let process = command
            .stdout(log.try_clone().unwrap())
            .stderr(log)
            .spawn()
            .unwrap();
        self.process = Some(process);
        let deadline = std::time::Instant::now() + Duration::from_secs(60);
        while TcpStream::connect(("127.0.0.1", port)).is_err() {
            assert!(
                std::time::Instant::now() < deadline,
                "the private server in {} did not start",
                self.dir.display()
            );
            std::thread::sleep(Duration::from_millis(100));
        }
    }

    /// Stops it cleanly (SIGTERM) and waits until it exited.
    fn stop(&mut self) {
        if let Some(mut process) = self.process.take() {
            let _ = Command::new("kill")
                .args(["-TERM", &process.id().to_string()])
                .status();
            process.wait().unwrap();
        }
    }
}

impl Drop for Daemon {
    fn drop(&mut self) {
        if let Some(mut process) = self.process.take() {
            let _ = process.kill();
            let _ = process.wait();
        }
        let _ = std::fs::remove_dir_all(&self.dir);
    }
}

/// A single-node Kafka of a test's own, from the jars `./dev infra up` fetched.
pub(crate) struct PrivateBroker {
    daemon: Daemon,
    port: u16,
}

impl PrivateBroker {
    fn libs() -> String {
        let libs = std::env::var("BAZAAR_KAFKA_LIBS").unwrap_or_else(|_| {
            concat!(env!("CARGO_MANIFEST_DIR"), "/.bazaar/kafka/libs").to_owned()
        });
        format!("{libs}/*")
    }

    /// Formats its storage and starts it.
    pub(crate) fn start() -> Self {
        let daemon = Daemon::new("broker");
        let dir = daemon.dir.clone();
        let (port, controller) = (free_port(), free_port());
        let template = std::fs::read_to_string(concat!(
            env!("CARGO_MANIFEST_DIR"),
            "/infra/kafka/server.properties"
        ))
        .unwrap();
        let properties = template
            .replace("@DATA@", dir.to_str().unwrap())
            .replace("@CONTROLLER_PORT@", &controller.to_string())
            .replace("@PORT@", &port.to_string());
        std::fs::write(dir.join("server.properties"), properties).unwrap();
        let cluster = Command::new("java")
            .args([
                "-cp",
                &Self::libs(),
                "kafka.tools.StorageTool",
                "random-uuid",
            ])
            .output()
            .unwrap();
        let cluster = String::from_utf8(cluster.stdout).unwrap();
        let cluster = cluster
            .lines()
            .last()
            .expect("a cluster id")
            .trim()
            .to_owned();
        let formatted = Command::new("java")
            .args([
                "-cp",
                &Self::libs(),
                "kafka.tools.StorageTool",
                "format",
                "-t",
                &cluster,
                "-c",
            ])
            .arg(dir.join("server.properties"))
            .output()
            .unwrap();
        assert!(
            formatted.status.success(),
            "{}",
            String::from_utf8_lossy(&formatted.stderr)
        );
        let mut broker = Self { daemon, port };
        broker.resume();
        broker
    }

    /// Its bootstrap address.
    pub(crate) fn address(&self) -> String {
        format!("127.0.0.1:{}", self.port)
    }

    /// Stops it cleanly and waits until it exited.
    pub(crate) fn stop(&mut self) {
        self.daemon.stop();
    }

    /// Starts it again on the same storage and waits until it listens.
    pub(crate) fn resume(&mut self) {
        let mut java = Command::new("java");
        java.args(["-Xms128m", "-Xmx384m", "-cp", &Self::libs(), "kafka.Kafka"])
            .arg(self.daemon.dir.join("server.properties"));
        self.daemon.spawn(&mut java, self.port);
    }
}

/// A ClickHouse server of a test's own (Debian's, which `./dev infra up` installs), with
/// the project's configuration on ports of its own.
pub(crate) struct PrivateClickHouse {
    daemon: Daemon,
    http_port: u16,
}

impl PrivateClickHouse {
    /// Writes its configuration and starts it.
    pub(crate) fn start() -> Self {
        let daemon = Daemon::new("clickhouse");
        let dir = daemon.dir.to_str().unwrap().to_owned();
        let (http_port, tcp_port) = (free_port(), free_port());
        for file in ["config.xml", "users.xml"] {
            let template = std::fs::read_to_string(
                std::path::Path::new(env!("CARGO_MANIFEST_DIR"))
                    .join("infra/clickhouse")
                    .join(file),
            )
            .unwrap();
            let config = template
                .replace("@DATA@", &dir)
                .replace("@LOGS@", &dir)
                .replace("@HTTP_PORT@", &http_port.to_string())
                .replace("@TCP_PORT@", &tcp_port.to_string());
            std::fs::write(daemon.dir.join(file), config).unwrap();
        }
        let mut server = Self { daemon, http_port };
        server.resume();
        server
    }

    /// Its HTTP URL.
    pub(crate) fn url(&self) -> String {
        format!("http://127.0.0.1:{}", self.http_port)
    }

    /// Stops it cleanly and waits until it exited.
    pub(crate) fn stop(&mut self) {
        self.daemon.stop();
    }

    /// Starts it again on the same data and waits until it listens.
    pub(crate) fn resume(&mut self) {
        let mut server = Command::new("clickhouse-server");
        server.arg(format!(
            "--config-file={}",
            self.daemon.dir.join("config.xml").display()
        ));
        self.daemon.spawn(&mut server, self.http_port);
    }
}
