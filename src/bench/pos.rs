//! `bazaar bench pos`: checkouts against a running mesh (`./dev up`: relay and consumers
//! running), from many terminals at a fixed rate. A fresh tenant gets a store with a
//! range of products, each stocked at a cost (enough never to run out, so the figures
//! measure checkouts, not stock-outs); each checkout is a 5-line invoice paid in cash,
//! which reserves stock in inventory over HTTP before it commits, and whose lines then
//! leave stock at their cost, which finance posts. Prints sustained checkouts/s and
//! p50/p99/p99.9 latency per rate, then how long the consumers took to catch up, and
//! waits for them: a rate's lag would otherwise slow the next one down.

use std::time::{Duration, Instant};

use anyhow::Context;
use bazaar_platform::{db, kafka, Settings};
use rdkafka::{
    consumer::{BaseConsumer, Consumer},
    Offset, TopicPartitionList,
};
use serde_json::{json, Value};
use uuid::Uuid;

use crate::client::{problem, Client, Login};

/// What `bazaar bench pos` measures.
#[derive(Debug, clap::Args)]
pub(crate) struct PosBench {
    /// Checkouts per second to offer, one run each.
    #[arg(long, value_delimiter = ',', default_value = "200,500")]
    rates: Vec<u32>,
    /// Seconds per run.
    #[arg(long, default_value_t = 20)]
    seconds: u64,
    /// Terminals (each its own invoice series), sharing the load.
    #[arg(long, default_value_t = 16)]
    terminals: u32,
    /// Products in the store. Each basket is five neighbours in the range, starting at a
    /// different one per checkout: a store's tills sell from its range, not all the same
    /// five items (with `--products 5` they do, and queue on those items' stock rows).
    #[arg(long, default_value_t = 200)]
    products: usize,
    /// The running API.
    #[arg(long, default_value = "http://127.0.0.1:8080")]
    url: String,
    /// Seconds to wait after each rate for the consumers to catch up.
    #[arg(long, default_value_t = 300)]
    catch_up_seconds: u64,
}

pub(crate) async fn pos(settings: &Settings, bench: PosBench) -> anyhow::Result<()> {
    let slug = format!("bench-{}", &Uuid::new_v4().simple().to_string()[..8]);
    let password = Uuid::new_v4().simple().to_string();
    let identity = db::prepare(
        settings,
        bazaar_identity::SERVICE,
        bazaar_identity::migrator(),
    )
    .await?;
    let created = bazaar_identity::bootstrap(
        &identity,
        bazaar_identity::Bootstrap {
            slug: slug.clone(),
            name: "POS benchmark".to_owned(),
            email: format!("owner@{slug}.bench"),
            password: password.clone(),
            stores: vec![("BNCH".to_owned(), "Benchmark store".to_owned())],
        },
    )
    .await?;
    identity.close().await;
    let store = created.stores[0];
    let login = Login {
        url: bench.url.clone(),
        tenant: slug.clone(),
        email: format!("owner@{slug}.bench"),
        password,
    };
    let client = Client::login(&login, bench.terminals as usize * 4).await?;
    let post = |path: &str, body: Value| {
        let request = client.request(reqwest::Method::POST, path).json(&body);
        async move {
            problem(request.send().await?)
                .await?
                .json::<Value>()
                .await
                .map_err(anyhow::Error::from)
        }
    };

    // Inventory and sales learn of the new store from identity's event, through the relay
    // and their consumers: until then the store is unknown to them.
    let location: Value = once_store_known(|| {
        client
            .request(reqwest::Method::POST, "/api/v1/inventory/locations")
            .json(
                &json!({"code": "BNCH", "name": "Benchmark store", "kind": "store",
                          "store_id": store}),
            )
    })
    .await?
    .json()
    .await?;
    let store_settings =
        json!({"code": "BNCH", "state_code": "29", "gstin": null, "location_id": location["id"]});
    once_store_known(|| {
        client
            .request(reqwest::Method::PUT, &format!("/api/v1/pos/stores/{store}"))
            .json(&store_settings)
    })
    .await?;
    anyhow::ensure!(bench.products >= 5, "--products: at least 5, one per line");
    let mut products = Vec::new();
    for n in 0..bench.products {
        let product = post(
            "/api/v1/products",
            json!({"sku": format!("BENCH-{n}"), "name": format!("Bench product {n}"),
            "unit": "piece", "gst_rate": "18", "mrp": {"amount_minor": 11_800, "currency": "INR"},
            "selling_price": {"amount_minor": 11_800, "currency": "INR"}, "tax_inclusive": true}),
        )
        .await?;
        products.push(product["id"].as_str().context("a product id")?.to_owned());
    }
    // Stocked as a store is: a sale draws real stock, and its cost of goods sold is
    // posted. Inventory and sales learn the products from catalog's events, so they may
    // not know the last ones yet.
    let started = Instant::now();
    for product in &products {
        let stock = json!({"location_id": location["id"], "product_id": product,
            "quantity": "1000000", "reason": "opening_stock",
            "unit_cost": {"amount_minor": 8_000, "currency": "INR"}});
        accepted_once_learned(&client, "/api/v1/inventory/adjust", &stock, started).await?;
    }
    let lines: std::sync::Arc<Vec<Value>> = std::sync::Arc::new(
        products
            .iter()
            .map(|p| json!({"product_id": p, "quantity": "1"}))
            .collect(),
    );
    // The last products created are the last learned.
    let probe = invoice(store, 0, &lines, lines.len() - 5);
    accepted_once_learned(&client, "/api/v1/pos/invoices", &probe, Instant::now()).await?;
    out!(
        "tenant {slug}: a store stocked with 1,000,000 of each of {} products at ₹80.00; 5-line cash invoices from {} terminals",
        bench.products,
        bench.terminals
    );

    for rate in &bench.rates {
        let per_terminal = Duration::from_secs_f64(f64::from(bench.terminals) / f64::from(*rate));
        let began = Instant::now();
        let end = began + Duration::from_secs(bench.seconds);
        let mut runs = tokio::task::JoinSet::new();
        for terminal in 1..=bench.terminals {
            let (client, lines) = (client.clone(), lines.clone());
            runs.spawn(async move {
                let (mut latencies, mut errors) = (Vec::new(), 0u64);
                let mut next = Instant::now() + per_terminal.mul_f64(f64::from(terminal) / 16.0);
                let mut basket = terminal as usize * 7;
                while next < end {
                    tokio::time::sleep_until(next.into()).await;
                    let sent = Instant::now();
                    let ok = client
                        .request(reqwest::Method::POST, "/api/v1/pos/invoices")
                        .json(&invoice(store, terminal, &lines, basket))
                        .send()
                        .await
                        .is_ok_and(|r| r.status().is_success());
                    basket += 5;
                    // Latency from when the checkout was due: a slow system is not
                    // excused by offering it less work.
                    latencies.push(next.elapsed().max(sent.elapsed()));
                    errors += u64::from(!ok);
                    next += per_terminal;
                }
                (latencies, errors)
            });
        }
        let (mut latencies, mut errors) = (Vec::new(), 0);
        while let Some(result) = runs.join_next().await {
            let (some, failed) = result?;
            latencies.extend(some);
            errors += failed;
        }
        // Until the last checkout answered: a system that falls behind finishes late.
        let took = began.elapsed().as_secs_f64();
        latencies.sort();
        let at = |q: f64| {
            let index =
                ((latencies.len() as f64 * q).ceil() as usize).clamp(1, latencies.len()) - 1;
            latencies[index].as_secs_f64() * 1000.0
        };
        out!(
            "offered {rate}/s for {} s: {} checkouts in {took:.1} s, {:.0}/s sustained, {errors} errors; \
             p50 {:.1} ms, p99 {:.1} ms, p99.9 {:.1} ms, max {:.1} ms",
            bench.seconds,
            latencies.len(),
            latencies.len() as f64 / took,
            at(0.50),
            at(0.99),
            at(0.999),
            at(1.0)
        );
        let (settings, patience) = (
            settings.clone(),
            Duration::from_secs(bench.catch_up_seconds),
        );
        let mut groups =
            tokio::task::spawn_blocking(move || catch_up(&settings, patience)).await??;
        groups.sort_by_key(|g| std::cmp::Reverse(g.took));
        let behind: i64 = groups.iter().map(|g| g.behind).sum();
        let took = groups.first().map_or(0.0, |g| g.took.as_secs_f64());
        let slowest: Vec<String> = groups
            .iter()
            .take(3)
            .map(|g| format!("{} {:.1} s", g.group, g.took.as_secs_f64()))
            .collect();
        if behind == 0 {
            out!(
                "  consumers caught up {took:.1} s after the last checkout (slowest: {})",
                slowest.join(", ")
            );
        } else {
            out!("  consumers still {behind} events behind {took:.0} s after the last checkout");
        }
    }
    Ok(())
}

/// How long a consumer group took to catch up.
struct CaughtUp {
    group: String,
    took: Duration,
    /// Events still behind when the wait gave up; 0 once caught up.
    behind: i64,
}

/// Waits until every consumer group at work has committed, on each `*.events.v1`
/// partition it reads, the end the partition has now; gives up after `patience`. Offsets
/// are committed every second, so each wait is up to a second long. Blocking: run it off
/// the runtime.
fn catch_up(settings: &Settings, patience: Duration) -> anyhow::Result<Vec<CaughtUp>> {
    const CLIENT: &str = "bazaar-bench-pos";
    let (started, timeout) = (Instant::now(), Duration::from_secs(10));
    let admin: BaseConsumer = kafka::client_config(settings, CLIENT).create()?;
    let mut ends = TopicPartitionList::new();
    let metadata = admin.fetch_metadata(None, timeout)?;
    for topic in metadata
        .topics()
        .iter()
        .filter(|t| t.name().ends_with(".events.v1"))
    {
        for partition in topic.partitions() {
            let (_, end) = admin.fetch_watermarks(topic.name(), partition.id(), timeout)?;
            ends.add_partition_offset(topic.name(), partition.id(), Offset::Offset(end))?;
        }
    }
    // Groups left behind by stopped processes have no members, and never move.
    let mut waiting = Vec::new();
    for group in admin.fetch_group_list(None, timeout)?.groups() {
        if group.protocol_type() == "consumer" && !group.members().is_empty() {
            let offsets: BaseConsumer = kafka::client_config(settings, CLIENT)
                .set("group.id", group.name())
                .create()?;
            waiting.push((group.name().to_owned(), offsets));
        }
    }
    let mut done = Vec::new();
    loop {
        let mut still = Vec::new();
        for (group, offsets) in waiting {
            let committed = offsets.committed_offsets(ends.clone(), timeout)?;
            let mut behind = 0;
            for end in ends.elements() {
                let at = committed
                    .find_partition(end.topic(), end.partition())
                    .map(|p| p.offset());
                // No committed offset: the group does not read that topic.
                if let (Offset::Offset(end), Some(Offset::Offset(at))) = (end.offset(), at) {
                    behind += (end - at).max(0);
                }
            }
            if behind == 0 || started.elapsed() > patience {
                let took = started.elapsed();
                done.push(CaughtUp {
                    group,
                    took,
                    behind,
                });
            } else {
                still.push((group, offsets));
            }
        }
        if still.is_empty() {
            return Ok(done);
        }
        waiting = still;
        std::thread::sleep(Duration::from_millis(200));
    }
}

/// Sends `request` until its service has learned the store it names (404 until then),
/// for a minute at most.
async fn once_store_known(
    request: impl Fn() -> reqwest::RequestBuilder,
) -> anyhow::Result<reqwest::Response> {
    let deadline = Instant::now() + Duration::from_secs(60);
    loop {
        let reply = request().send().await?;
        if reply.status() != reqwest::StatusCode::NOT_FOUND || Instant::now() > deadline {
            return problem(reply).await;
        }
        tokio::time::sleep(Duration::from_millis(250)).await;
    }
}

/// Posts `body` to `path` until it is accepted: refused while the service has not yet
/// learned the products from catalog's events, and given up on a minute after `started`.
async fn accepted_once_learned(
    client: &Client,
    path: &str,
    body: &Value,
    started: Instant,
) -> anyhow::Result<()> {
    loop {
        let reply = client
            .request(reqwest::Method::POST, path)
            .json(body)
            .send()
            .await?;
        if reply.status().is_success() {
            return Ok(());
        }
        anyhow::ensure!(
            started.elapsed() < Duration::from_secs(60),
            "{path} never learned the products: are the consumers running (./dev up)? {}",
            reply.text().await.unwrap_or_default()
        );
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
}

/// A 5-line cash invoice from `terminal`: the five products from `first` on (wrapping
/// round the range) at ₹118 each.
fn invoice(store: Uuid, terminal: u32, lines: &[Value], first: usize) -> Value {
    let basket: Vec<&Value> = (first..first + 5)
        .map(|n| &lines[n % lines.len()])
        .collect();
    json!({"id": Uuid::new_v4(), "store_id": store, "terminal_id": format!("T{terminal}"),
        "lines": basket, "payments": [{"mode": "cash", "amount_minor": 59_000}]})
}
