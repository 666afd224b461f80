//! `bazaar bench catalog-import`: a generated CSV of N products through a running
//! Bazaar's bulk import, into a fresh tenant; then the same file again, which must change
//! nothing. Prints rows per second for both.

use std::io::Write;

use anyhow::Context;
use bazaar_platform::{db, Settings};
use uuid::Uuid;

use crate::{
    cli::catalog_file,
    client::{Client, Login},
};

/// What `bazaar bench catalog-import` measures.
#[derive(Debug, clap::Args)]
pub(crate) struct ImportBench {
    /// Products in the file.
    #[arg(long, default_value_t = 100_000)]
    rows: u32,
    /// The running API.
    #[arg(long, default_value = "http://127.0.0.1:8080")]
    url: String,
}

pub(crate) async fn catalog_import(settings: &Settings, bench: ImportBench) -> anyhow::Result<()> {
    let path = std::env::temp_dir().join(format!("bazaar-bench-{}.csv", bench.rows));
    write_file(&path, bench.rows)?;
    let size = std::fs::metadata(&path)?.len();

    // A tenant of its own, so the figures never depend on (or pollute) the demo's data.
    let slug = format!("bench-{}", &Uuid::new_v4().simple().to_string()[..8]);
    let password = Uuid::new_v4().simple().to_string();
    let identity = db::prepare(
        settings,
        bazaar_identity::SERVICE,
        bazaar_identity::migrator(),
    )
    .await?;
    bazaar_identity::bootstrap(
        &identity,
        bazaar_identity::Bootstrap {
            slug: slug.clone(),
            name: "Import benchmark".to_owned(),
            email: format!("owner@{slug}.bench"),
            password: password.clone(),
            stores: Vec::new(),
        },
    )
    .await?;
    identity.close().await;
    let login = Login {
        url: bench.url,
        tenant: slug.clone(),
        email: format!("owner@{slug}.bench"),
        password,
    };
    let client = Client::login(&login, 1).await?;
    out!(
        "importing {} products ({:.1} MiB) into tenant {slug} at {}",
        bench.rows,
        size as f64 / 1_048_576.0,
        client.base
    );
    for pass in ["first import", "same file again"] {
        let imported = catalog_file::import(&client, &path, false, false).await?;
        let report = &imported.report;
        let seconds = imported.elapsed.as_secs_f64();
        out!(
            "{pass}: {} rows in {seconds:.2} s = {:.0} rows/s ({} created, {} updated, {} unchanged)",
            report["rows"],
            f64::from(bench.rows) / seconds,
            report["created"],
            report["updated"],
            report["unchanged"]
        );
    }
    std::fs::remove_file(&path).ok();
    Ok(())
}

/// Products with categories, prices, reorder levels and a valid EAN-13 each.
fn write_file(path: &std::path::Path, rows: u32) -> anyhow::Result<()> {
    let file = std::fs::File::create(path).with_context(|| format!("{}", path.display()))?;
    let mut out = std::io::BufWriter::new(file);
    writeln!(
        out,
        "sku,name,brand,category,unit,hsn_code,gst_rate,mrp,selling_price,reorder_level,barcodes"
    )?;
    let categories = [
        "Staples / Rice",
        "Staples / Dal",
        "Beverages / Tea",
        "Personal care",
        "Household",
        "Snacks",
    ];
    for n in 0..rows {
        let mrp = 1_000 + (n % 5_000) * 10;
        let selling = mrp - mrp / 20;
        let barcode = bazaar_catalog::domain::generate_ean13("890", i64::from(n) + 1)
            .context("barcode series")?;
        writeln!(
            out,
            "BENCH-{n:06},Benchmark product {n},Brand {},{},piece,3401,18,{}.{:02},{}.{:02},12,{barcode}",
            n % 50,
            categories[n as usize % categories.len()],
            mrp / 100,
            mrp % 100,
            selling / 100,
            selling % 100,
        )?;
    }
    out.flush()?;
    Ok(())
}
