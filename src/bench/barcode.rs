//! `bazaar bench barcode`: the POS's hot path under load. Logs in to a running Bazaar
//! (`./dev up`), collects the tenant's barcodes, then scans them from many concurrent
//! clients over HTTP for a while; prints throughput and latency percentiles.

use std::time::{Duration, Instant};

use serde_json::Value;

use crate::client::{Client, Login};

/// What `bazaar bench barcode` measures, and against what.
#[derive(Debug, clap::Args)]
pub(crate) struct BarcodeBench {
    #[command(flatten)]
    login: Login,
    /// Concurrent clients, each scanning as fast as answers come.
    #[arg(long, default_value_t = 32)]
    concurrency: usize,
    /// Seconds of load (after a 2-second warm-up).
    #[arg(long, default_value_t = 20)]
    seconds: u64,
}

pub(crate) async fn barcode(bench: BarcodeBench) -> anyhow::Result<()> {
    let api = Client::login(&bench.login, bench.concurrency).await?;
    let (client, token, base) = (api.http.clone(), api.token.clone(), api.base.clone());
    let mut codes = Vec::new();
    for page in 1.. {
        let products: Vec<Value> = client
            .get(format!("{base}/api/v1/products?limit=200&page={page}"))
            .bearer_auth(&token)
            .send()
            .await?
            .error_for_status()?
            .json()
            .await?;
        if products.is_empty() {
            break;
        }
        codes.extend(
            products
                .iter()
                .filter_map(|p| p["barcodes"][0].as_str().map(str::to_owned)),
        );
    }
    anyhow::ensure!(!codes.is_empty(), "the tenant has no barcodes to scan");
    out!(
        "scanning {} barcodes from {} clients for {} s at {base}",
        codes.len(),
        bench.concurrency,
        bench.seconds
    );

    let warm_up = Instant::now() + Duration::from_secs(2);
    let end = warm_up + Duration::from_secs(bench.seconds);
    let mut clients = tokio::task::JoinSet::new();
    for worker in 0..bench.concurrency {
        let (client, token, base) = (client.clone(), token.clone(), base.clone());
        let codes = codes.clone();
        clients.spawn(async move {
            let (mut latencies, mut errors) = (Vec::new(), 0u64);
            let mut next = worker;
            while Instant::now() < end {
                let code = &codes[next % codes.len()];
                next += bench.concurrency.max(1);
                let started = Instant::now();
                let ok = client
                    .get(format!("{base}/api/v1/barcodes/{code}"))
                    .bearer_auth(&token)
                    .send()
                    .await
                    .is_ok_and(|r| r.status().is_success());
                if started >= warm_up {
                    latencies.push(started.elapsed());
                    errors += u64::from(!ok);
                }
            }
            (latencies, errors)
        });
    }
    let (mut latencies, mut errors) = (Vec::new(), 0);
    while let Some(result) = clients.join_next().await {
        let (some, failed) = result?;
        latencies.extend(some);
        errors += failed;
    }
    latencies.sort();
    let at = |q: f64| {
        let index = ((latencies.len() as f64 * q).ceil() as usize).clamp(1, latencies.len()) - 1;
        latencies[index].as_secs_f64() * 1000.0
    };
    anyhow::ensure!(!latencies.is_empty(), "no scan completed");
    out!(
        "{} scans, {:.0} scans/s, {errors} errors; latency p50 {:.2} ms, p95 {:.2} ms, \
         p99 {:.2} ms, max {:.2} ms",
        latencies.len(),
        latencies.len() as f64 / bench.seconds as f64,
        at(0.50),
        at(0.95),
        at(0.99),
        at(1.0)
    );
    Ok(())
}
