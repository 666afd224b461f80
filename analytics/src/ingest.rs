//! `analytics-clickhouse`: every event of every `*.events.v1` topic into ClickHouse, in
//! batches (the platform's batch runner: 50,000 events or one second), as raw events and
//! as the facts the dashboards read.
//!
//! Rollups are materialized views that sum, so no event may be inserted twice. Kafka
//! redelivers a batch whose offsets were not committed, and a relay that crashed
//! publishes some events again at new offsets. Every row names the message it came
//! from: a batch that does not carry on from the last one stored (after a failure, a
//! restart or a rebalance) asks each table which of its messages it holds and writes the
//! rest, so a batch stored half-way is completed without a row twice. Events whose id was
//! stored in the last hour are skipped. `events` is written last: an event there has all
//! its facts.
//!
//! The `<topic>.dlq` topics come in too, as `dead_letters`, read from their headers.

use bazaar_schemas::{events, Event as _};
use std::collections::HashMap;

use bazaar_platform::{
    clickhouse::{self, Client},
    consumer::{Batch, BatchSink, ConsumedEvent, DeadLetter, ProjectionError},
    money::{checked_sum, value_minor},
};
use chrono::{DateTime, NaiveDate};
use rust_decimal::Decimal;
use serde::{Deserialize, Serialize};
use uuid::Uuid;

/// The consumer group.
pub const NAME: &str = "analytics-clickhouse";

/// Every domain topic and its dead letters, by pattern: new services' topics are read
/// without a change here.
pub const TOPICS: &str = "^[a-z]+\\.events\\.v1(\\.dlq)?$";

/// Stores the topics in a ClickHouse database migrated by `migrate`.
pub struct AnalyticsIngest {
    client: Client,
    topics: Vec<String>,
    stored: tokio::sync::Mutex<Stored>,
}

impl AnalyticsIngest {
    /// The ingest into `client`'s database, reading `topics` (names or `^patterns`; a
    /// topic ending in `.dlq` is read as dead letters).
    pub fn new(client: Client, topics: Vec<String>) -> Self {
        Self {
            client,
            topics,
            stored: Default::default(),
        }
    }
}

#[derive(Debug, Serialize, clickhouse::Row)]
struct EventRow {
    id: String,
    #[serde(rename = "type")]
    event_type: String,
    source: String,
    tenant_id: String,
    store_id: String,
    subject: String,
    time: u32,
    topic: String,
    partition: i32,
    offset: i64,
    payload: String,
}

#[derive(Debug, Serialize, clickhouse::Row)]
struct ProductRow {
    tenant_id: String,
    product_id: String,
    sku: String,
    name: String,
    category_id: String,
    version: u64,
    topic: String,
    partition: i32,
    offset: i64,
}

#[derive(Debug, Serialize, clickhouse::Row)]
struct CategoryRow {
    tenant_id: String,
    category_id: String,
    name: String,
    topic: String,
    partition: i32,
    offset: i64,
}

#[derive(Debug, Serialize, clickhouse::Row)]
struct SalesLineRow {
    event_id: String,
    tenant_id: String,
    store_id: String,
    terminal_id: String,
    invoice_id: String,
    invoice_number: String,
    line_no: i32,
    product_id: String,
    sku: String,
    quantity_milli: i64,
    net_minor: i64,
    tax_minor: i64,
    discount_minor: i64,
    payment_mode: String,
    issued_at: u32,
    topic: String,
    partition: i32,
    offset: i64,
}

#[derive(Debug, Serialize, clickhouse::Row)]
struct ReturnLineRow {
    event_id: String,
    tenant_id: String,
    store_id: String,
    return_id: String,
    invoice_id: String,
    line_no: i32,
    product_id: String,
    sku: String,
    quantity_milli: i64,
    net_minor: i64,
    tax_minor: i64,
    processed_at: u32,
    topic: String,
    partition: i32,
    offset: i64,
}

#[derive(Debug, Serialize, clickhouse::Row)]
struct StockMovementRow {
    event_id: String,
    tenant_id: String,
    location_id: String,
    store_id: String,
    product_id: String,
    sku: String,
    kind: String,
    quantity_milli: i64,
    value_minor: i64,
    reference_id: String,
    recorded_at: u32,
    topic: String,
    partition: i32,
    offset: i64,
}

#[derive(Debug, Serialize, clickhouse::Row)]
struct PurchaseLineRow {
    event_id: String,
    tenant_id: String,
    vendor_id: String,
    invoice_id: String,
    line_no: i32,
    product_id: String,
    sku: String,
    quantity_milli: i64,
    net_minor: i64,
    tax_minor: i64,
    invoice_date: u16,
    topic: String,
    partition: i32,
    offset: i64,
}

#[derive(Debug, Serialize, clickhouse::Row)]
struct JournalLineRow {
    event_id: String,
    tenant_id: String,
    entry_id: String,
    line_no: i32,
    account_code: String,
    store_id: String,
    debit_minor: i64,
    credit_minor: i64,
    source: String,
    posting_date: u16,
    topic: String,
    partition: i32,
    offset: i64,
}

#[derive(Debug, Serialize, clickhouse::Row)]
struct DeadLetterRow {
    consumer: String,
    error: String,
    attempts: u32,
    original_topic: String,
    original_partition: i32,
    original_offset: i64,
    event_id: String,
    #[serde(rename = "type")]
    event_type: String,
    tenant_id: String,
    dead_lettered_at: u32,
    topic: String,
    partition: i32,
    offset: i64,
}

impl From<&DeadLetter> for DeadLetterRow {
    fn from(letter: &DeadLetter) -> Self {
        Self {
            consumer: letter.consumer.clone(),
            error: letter.error.clone(),
            attempts: letter.attempts,
            original_topic: letter.original_topic.clone(),
            original_partition: letter.original_partition,
            original_offset: letter.original_offset,
            event_id: letter.event_id.clone(),
            event_type: letter.event_type.clone(),
            tenant_id: letter.tenant.clone(),
            dead_lettered_at: u32::try_from(letter.dead_lettered_at.timestamp()).unwrap_or(0),
            topic: letter.topic.clone(),
            partition: letter.partition,
            offset: letter.offset,
        }
    }
}

#[derive(Debug, Serialize, clickhouse::Row)]
struct OffsetRow {
    table: String,
    topic: String,
    partition: i32,
    offset: i64,
}

/// The tax on a line: every GST component and cess, never a wrapped sum.
fn tax(cgst: i64, sgst: i64, igst: i64, cess: i64) -> Result<i64, ProjectionError> {
    Ok(checked_sum([cgst, sgst, igst, cess])?)
}

/// Thousandths of a unit: quantities as scaled integers.
fn milli(text: &str) -> Result<i64, ProjectionError> {
    let quantity: Decimal = text.trim().parse()?;
    Ok(value_minor(quantity, Decimal::from(1000)))
}

fn seconds(millis: i64) -> u32 {
    u32::try_from(millis.div_euclid(1000)).unwrap_or(0)
}

/// Days since 1970-01-01: ClickHouse's `Date` in RowBinary.
fn days(date: &str) -> Result<u16, ProjectionError> {
    let date: NaiveDate = date.parse()?;
    let epoch = DateTime::UNIX_EPOCH.date_naive();
    Ok(u16::try_from((date - epoch).num_days()).unwrap_or(0))
}

fn id(uuid: Option<Uuid>) -> String {
    uuid.map(|u| u.to_string()).unwrap_or_default()
}

/// The rows one batch adds to each table.
#[derive(Default)]
struct Rows {
    events: Vec<EventRow>,
    products: Vec<ProductRow>,
    categories: Vec<CategoryRow>,
    sales_lines: Vec<SalesLineRow>,
    return_lines: Vec<ReturnLineRow>,
    stock_movements: Vec<StockMovementRow>,
    purchase_lines: Vec<PurchaseLineRow>,
    journal_lines: Vec<JournalLineRow>,
}

impl Rows {
    /// The rows of `events`. An event whose facts cannot be read is kept as a raw event
    /// and logged: it must not hold up every topic behind it.
    fn of(events: &[&ConsumedEvent]) -> Rows {
        // Turning events into rows is the ingest's own work (ClickHouse idles meanwhile):
        // a large batch is split over two threads.
        if events.len() >= 2_000 {
            let (first, second) = events.split_at(events.len() / 2);
            let (mut rows, rest) = std::thread::scope(|scope| {
                let other = scope.spawn(|| Rows::of(second));
                let rows = Rows::of(first);
                (
                    rows,
                    other
                        .join()
                        .unwrap_or_else(|panic| std::panic::resume_unwind(panic)),
                )
            });
            rows.append(rest);
            return rows;
        }
        Rows::of_each(events, Rows::default())
    }

    /// `rows` and those of `events`, one event after the other.
    fn of_each(events: &[&ConsumedEvent], mut rows: Rows) -> Rows {
        for event in events {
            let mut one = Rows::default();
            match one.add(event) {
                Ok(()) => rows.append(one),
                Err(err) => {
                    tracing::error!(event_id = %event.cloud.id, event_type = %event.cloud.event_type, error = %err, "no facts from this event");
                    rows.events.append(&mut one.events);
                }
            }
        }
        rows
    }

    fn append(&mut self, mut other: Rows) {
        self.events.append(&mut other.events);
        self.products.append(&mut other.products);
        self.categories.append(&mut other.categories);
        self.sales_lines.append(&mut other.sales_lines);
        self.return_lines.append(&mut other.return_lines);
        self.stock_movements.append(&mut other.stock_movements);
        self.purchase_lines.append(&mut other.purchase_lines);
        self.journal_lines.append(&mut other.journal_lines);
    }

    fn add(&mut self, event: &ConsumedEvent) -> Result<(), ProjectionError> {
        let payload = event.json()?;
        let tenant = event.cloud.tenant.to_string();
        let event_id = event.cloud.id.to_string();
        self.events.push(EventRow {
            id: event_id.clone(),
            event_type: event.cloud.event_type.clone(),
            source: event.cloud.source.clone(),
            tenant_id: tenant.clone(),
            store_id: payload["store_id"].as_str().unwrap_or_default().to_owned(),
            subject: event.cloud.subject.clone(),
            time: u32::try_from(event.cloud.time.timestamp()).unwrap_or(0),
            topic: event.topic.clone(),
            partition: event.partition,
            offset: event.offset,
            payload: payload.to_string(),
        });
        match event.cloud.event_type.as_str() {
            events::catalog::ProductCreated::TYPE | events::catalog::ProductUpdated::TYPE => {
                let (product_id, sku, name, category_id) =
                    if event.is::<events::catalog::ProductCreated>() {
                        let p: events::catalog::ProductCreated = event.payload()?;
                        (p.product_id, p.sku, p.name, p.category_id)
                    } else {
                        let p: events::catalog::ProductUpdated = event.payload()?;
                        (p.product_id, p.sku, p.name, p.category_id)
                    };
                self.products.push(ProductRow {
                    tenant_id: tenant,
                    product_id: product_id.to_string(),
                    sku,
                    name,
                    category_id: id(category_id),
                    version: u64::try_from(event.cloud.time.timestamp_millis()).unwrap_or(0),
                    topic: event.topic.clone(),
                    partition: event.partition,
                    offset: event.offset,
                });
            }
            events::catalog::CategoryCreated::TYPE => {
                let c: events::catalog::CategoryCreated = event.payload()?;
                self.categories.push(CategoryRow {
                    tenant_id: tenant,
                    category_id: c.category_id.to_string(),
                    name: c.name,
                    topic: event.topic.clone(),
                    partition: event.partition,
                    offset: event.offset,
                });
            }
            events::sales::InvoiceIssued::TYPE => {
                let i: events::sales::InvoiceIssued = event.payload()?;
                let mode = i
                    .payments
                    .iter()
                    .max_by_key(|p| p.amount_minor)
                    .map(|p| p.mode.clone())
                    .unwrap_or_default();
                for line in i.lines {
                    self.sales_lines.push(SalesLineRow {
                        event_id: event_id.clone(),
                        tenant_id: tenant.clone(),
                        store_id: i.store_id.to_string(),
                        terminal_id: i.terminal_id.clone(),
                        invoice_id: i.invoice_id.to_string(),
                        invoice_number: i.invoice_number.clone(),
                        line_no: line.line_no,
                        product_id: line.product_id.to_string(),
                        sku: line.sku,
                        quantity_milli: milli(&line.quantity)?,
                        net_minor: line.taxable_minor,
                        tax_minor: tax(
                            line.cgst_minor,
                            line.sgst_minor,
                            line.igst_minor,
                            line.cess_minor,
                        )?,
                        discount_minor: line.discount_minor,
                        payment_mode: mode.clone(),
                        issued_at: seconds(i.issued_at),
                        topic: event.topic.clone(),
                        partition: event.partition,
                        offset: event.offset,
                    });
                }
            }
            events::sales::ReturnProcessed::TYPE => {
                let r: events::sales::ReturnProcessed = event.payload()?;
                for line in r.lines {
                    self.return_lines.push(ReturnLineRow {
                        event_id: event_id.clone(),
                        tenant_id: tenant.clone(),
                        store_id: r.store_id.to_string(),
                        return_id: r.return_id.to_string(),
                        invoice_id: r.invoice_id.to_string(),
                        line_no: line.line_no,
                        product_id: line.product_id.to_string(),
                        sku: line.sku,
                        quantity_milli: milli(&line.quantity)?,
                        net_minor: line.taxable_minor,
                        tax_minor: tax(
                            line.cgst_minor,
                            line.sgst_minor,
                            line.igst_minor,
                            line.cess_minor,
                        )?,
                        processed_at: seconds(r.processed_at),
                        topic: event.topic.clone(),
                        partition: event.partition,
                        offset: event.offset,
                    });
                }
            }
            events::inventory::StockMoved::TYPE => {
                let m: events::inventory::StockMoved = event.payload()?;
                let quantity: Decimal = m.quantity.trim().parse()?;
                let cost: Decimal = m.unit_cost_minor.trim().parse()?;
                self.stock_movements.push(StockMovementRow {
                    event_id,
                    tenant_id: tenant,
                    location_id: m.location_id.to_string(),
                    store_id: id(m.store_id),
                    product_id: m.product_id.to_string(),
                    sku: m.sku,
                    kind: m.kind,
                    quantity_milli: milli(&m.quantity)?,
                    value_minor: value_minor(quantity, cost),
                    reference_id: m.reference_id.unwrap_or_default(),
                    recorded_at: seconds(m.recorded_at),
                    topic: event.topic.clone(),
                    partition: event.partition,
                    offset: event.offset,
                });
            }
            events::purchase::PurchaseInvoiceRecorded::TYPE => {
                let i: events::purchase::PurchaseInvoiceRecorded = event.payload()?;
                let date = days(&i.invoice_date)?;
                for (n, line) in i.lines.into_iter().enumerate() {
                    self.purchase_lines.push(PurchaseLineRow {
                        event_id: event_id.clone(),
                        tenant_id: tenant.clone(),
                        vendor_id: i.vendor_id.to_string(),
                        invoice_id: i.invoice_id.to_string(),
                        line_no: n as i32 + 1,
                        product_id: line.product_id.to_string(),
                        sku: line.sku,
                        quantity_milli: milli(&line.quantity)?,
                        net_minor: line.taxable_minor,
                        tax_minor: tax(
                            line.cgst_minor,
                            line.sgst_minor,
                            line.igst_minor,
                            line.cess_minor,
                        )?,
                        invoice_date: date,
                        topic: event.topic.clone(),
                        partition: event.partition,
                        offset: event.offset,
                    });
                }
            }
            events::finance::EntryPosted::TYPE => {
                let e: events::finance::EntryPosted = event.payload()?;
                let date = days(&e.posting_date)?;
                for (n, line) in e.lines.into_iter().enumerate() {
                    self.journal_lines.push(JournalLineRow {
                        event_id: event_id.clone(),
                        tenant_id: tenant.clone(),
                        entry_id: e.entry_id.to_string(),
                        line_no: n as i32 + 1,
                        account_code: line.account_code,
                        store_id: id(line.store_id),
                        debit_minor: line.debit_minor,
                        credit_minor: line.credit_minor,
                        source: e.source.clone(),
                        posting_date: date,
                        topic: event.topic.clone(),
                        partition: event.partition,
                        offset: event.offset,
                    });
                }
            }
            _ => {}
        }
        Ok(())
    }
}

/// The rows `batch` adds to each table as `INSERT ... FORMAT JSONEachRow` statements:
/// how a test loads the same facts into another engine (the current one, in process)
/// without Kafka. Events without facts are logged and kept as raw events, as the ingest
/// does.
pub fn insert_statements(batch: &Batch) -> Result<Vec<String>, serde_json::Error> {
    let events: Vec<&ConsumedEvent> = batch.events.iter().collect();
    let rows = Rows::of(&events);
    let dead_letters: Vec<DeadLetterRow> =
        batch.dead_letters.iter().map(DeadLetterRow::from).collect();
    fn insert<R: Serialize>(
        table: &str,
        rows: &[R],
        out: &mut Vec<String>,
    ) -> Result<(), serde_json::Error> {
        if rows.is_empty() {
            return Ok(());
        }
        let mut sql = format!("INSERT INTO {table} FORMAT JSONEachRow\n");
        for row in rows {
            sql.push_str(&serde_json::to_string(row)?);
            sql.push('\n');
        }
        out.push(sql);
        Ok(())
    }
    let mut out = Vec::new();
    insert("events", &rows.events, &mut out)?;
    insert("products", &rows.products, &mut out)?;
    insert("categories", &rows.categories, &mut out)?;
    insert("sales_lines", &rows.sales_lines, &mut out)?;
    insert("return_lines", &rows.return_lines, &mut out)?;
    insert("stock_movements", &rows.stock_movements, &mut out)?;
    insert("purchase_lines", &rows.purchase_lines, &mut out)?;
    insert("journal_lines", &rows.journal_lines, &mut out)?;
    insert("dead_letters", &dead_letters, &mut out)?;
    Ok(out)
}

/// How many messages of every partition in the database the ingest has stored in every
/// table. What a caller waits on to know the ingest has everything.
pub async fn events_stored(client: &Client) -> Result<u64, ::clickhouse::error::Error> {
    client
        .query(
            "SELECT toUInt64(sum(last + 1)) FROM (SELECT topic, partition, max(offset) AS last \
             FROM ingest_offsets WHERE table = 'events' GROUP BY topic, partition)",
        )
        .fetch_one()
        .await
}

/// A row that names the message it came from.
trait Sourced: clickhouse::Row + Serialize {
    fn source(&self) -> (&str, i32, i64);
}

macro_rules! sourced {
    ($($row:ty),*) => {$(
        impl Sourced for $row {
            fn source(&self) -> (&str, i32, i64) {
                (&self.topic, self.partition, self.offset)
            }
        }
    )*};
}

sourced!(
    EventRow,
    ProductRow,
    CategoryRow,
    SalesLineRow,
    ReturnLineRow,
    StockMovementRow,
    PurchaseLineRow,
    JournalLineRow,
    DeadLetterRow
);

/// The first and last offset a batch holds of each partition it read.
type Spans = HashMap<(String, i32), (i64, i64)>;

fn spans<'a>(sources: impl Iterator<Item = (&'a str, i32, i64)>) -> Spans {
    let mut spans = Spans::new();
    for (topic, partition, offset) in sources {
        spans
            .entry((topic.to_owned(), partition))
            .and_modify(|(first, last)| {
                *first = (*first).min(offset);
                *last = (*last).max(offset);
            })
            .or_insert((offset, offset));
    }
    spans
}

/// What the ingest knows it has stored, so that a batch is written once.
#[derive(Default)]
struct Stored {
    /// Per partition, the last offset every table has stored. Only a batch that carries
    /// on exactly from there is written without asking: after a failure, a restart or a
    /// rebalance, the tables are asked which of the batch's messages they hold.
    last: HashMap<(String, i32), i64>,
    /// Events stored lately, so a relay's duplicate (the same event published again
    /// after a crash, at a new offset) is not counted twice.
    recent: RecentEvents,
}

/// How many event ids the ingest remembers, and how far back it reads them at start.
const RECENT_EVENTS: usize = 1_000_000;
const RECENT_SECONDS: u32 = 3_600;

/// The ids of the last `RECENT_EVENTS` events stored, oldest first out.
#[derive(Default)]
struct RecentEvents {
    loaded: bool,
    ids: std::collections::HashSet<Uuid>,
    order: std::collections::VecDeque<Uuid>,
}

impl RecentEvents {
    fn contains(&self, id: &Uuid) -> bool {
        self.ids.contains(id)
    }

    fn remember(&mut self, id: Uuid) {
        if self.ids.insert(id) {
            self.order.push_back(id);
            if self.order.len() > RECENT_EVENTS {
                if let Some(oldest) = self.order.pop_front() {
                    self.ids.remove(&oldest);
                }
            }
        }
    }
}

#[derive(Debug, Deserialize, clickhouse::Row)]
struct HeldRow {
    topic: String,
    partition: i32,
    offset: i64,
}

impl AnalyticsIngest {
    /// Which of the messages in `spans` `table` already holds.
    async fn held(
        &self,
        table: &str,
        spans: &Spans,
    ) -> Result<std::collections::HashSet<(String, i32, i64)>, ::clickhouse::error::Error> {
        if spans.is_empty() {
            return Ok(Default::default());
        }
        let wanted = vec!["(topic = ? AND partition = ? AND offset BETWEEN ? AND ?)"; spans.len()];
        let sql = format!(
            "SELECT topic, partition, offset FROM {table} WHERE {}",
            wanted.join(" OR ")
        );
        let mut query = self.client.query(&sql);
        for ((topic, partition), (first, last)) in spans {
            query = query.bind(topic).bind(partition).bind(first).bind(last);
        }
        let rows: Vec<HeldRow> = query.fetch_all().await?;
        Ok(rows
            .into_iter()
            .map(|r| (r.topic, r.partition, r.offset))
            .collect())
    }

    /// Inserts the rows of `table`, less those it holds already of the `unsure` spans.
    async fn store<R: Sourced>(
        &self,
        table: &str,
        rows: &[R],
        unsure: &Spans,
    ) -> Result<(), ::clickhouse::error::Error> {
        if rows.is_empty() {
            return Ok(());
        }
        let held = self.held(table, unsure).await?;
        let mut insert = self.client.insert(table)?;
        let mut wrote = false;
        for row in rows {
            let (topic, partition, offset) = row.source();
            if !held.is_empty() && held.contains(&(topic.to_owned(), partition, offset)) {
                continue;
            }
            insert.write(row).await?;
            wrote = true;
        }
        if wrote {
            insert.end().await?;
        }
        Ok(())
    }

    /// The ids of the events stored in the last hour: what a relay could still publish again.
    async fn load_recent(
        &self,
        recent: &mut RecentEvents,
    ) -> Result<(), ::clickhouse::error::Error> {
        let ids: Vec<String> = self
            .client
            .query(
                "SELECT id FROM events WHERE ingested_at >= now() - ? \
                 ORDER BY ingested_at DESC LIMIT ?",
            )
            .bind(RECENT_SECONDS)
            .bind(RECENT_EVENTS as u64)
            .fetch_all()
            .await?;
        for id in ids.iter().rev().filter_map(|id| id.parse().ok()) {
            recent.remember(id);
        }
        recent.loaded = true;
        Ok(())
    }

    async fn store_batch(&self, batch: &Batch, stored: &mut Stored) -> Result<(), ProjectionError> {
        if !stored.recent.loaded {
            self.load_recent(&mut stored.recent).await?;
        }
        let read = spans(
            batch
                .events
                .iter()
                .map(|e| (e.topic.as_str(), e.partition, e.offset))
                .chain(
                    batch
                        .dead_letters
                        .iter()
                        .map(|d| (d.topic.as_str(), d.partition, d.offset)),
                ),
        );
        let unsure: Spans = read
            .iter()
            .filter(|(at, (first, _))| stored.last.get(*at) != Some(&(first - 1)))
            .map(|(at, span)| (at.clone(), *span))
            .collect();
        // Each event once, even when the relay published it twice.
        let mut ids = std::collections::HashSet::new();
        let events: Vec<&ConsumedEvent> = batch
            .events
            .iter()
            .filter(|e| !stored.recent.contains(&e.cloud.id) && ids.insert(e.cloud.id))
            .collect();
        if events.len() < batch.events.len() {
            tracing::info!(
                duplicates = batch.events.len() - events.len(),
                "events published again by a relay; stored once"
            );
        }
        let rows = Rows::of(&events);
        let dead_letters: Vec<DeadLetterRow> =
            batch.dead_letters.iter().map(DeadLetterRow::from).collect();
        self.store("products", &rows.products, &unsure).await?;
        self.store("categories", &rows.categories, &unsure).await?;
        self.store("sales_lines", &rows.sales_lines, &unsure)
            .await?;
        self.store("return_lines", &rows.return_lines, &unsure)
            .await?;
        self.store("stock_movements", &rows.stock_movements, &unsure)
            .await?;
        self.store("purchase_lines", &rows.purchase_lines, &unsure)
            .await?;
        self.store("journal_lines", &rows.journal_lines, &unsure)
            .await?;
        self.store("dead_letters", &dead_letters, &unsure).await?;
        // Last: an event in `events` has all its facts stored.
        self.store("events", &rows.events, &unsure).await?;
        let mut progress = self.client.insert("ingest_offsets")?;
        for ((topic, partition), (_, last)) in &read {
            progress
                .write(&OffsetRow {
                    table: "events".to_owned(),
                    topic: topic.clone(),
                    partition: *partition,
                    offset: *last,
                })
                .await?;
        }
        progress.end().await?;
        for ((topic, partition), (_, last)) in read {
            stored.last.insert((topic, partition), last);
        }
        for id in ids {
            stored.recent.remember(id);
        }
        Ok(())
    }
}

impl BatchSink for AnalyticsIngest {
    fn name(&self) -> &str {
        NAME
    }

    fn topics(&self) -> Vec<String> {
        self.topics.clone()
    }

    async fn write(&self, batch: &Batch) -> Result<(), ProjectionError> {
        let mut stored = self.stored.lock().await;
        let result = self.store_batch(batch, &mut stored).await;
        if result.is_err() {
            // Some tables may have the batch and others not: ask them when it comes back.
            stored.last.clear();
        }
        result
    }
}
