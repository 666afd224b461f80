//! `bazaar catalog import|export`: products as CSV through a running Bazaar.

use std::path::PathBuf;

use clap::Subcommand;

use super::catalog_file;
use crate::client::{self, Client};

#[derive(Subcommand)]
pub(crate) enum CatalogCommand {
    /// Create or update products from a CSV file, matched by SKU (the columns of
    /// `export`). Any bad row and nothing is imported, unless --partial.
    Import {
        file: PathBuf,
        /// Import the good rows and report the bad ones.
        #[arg(long)]
        partial: bool,
        #[command(flatten)]
        login: client::Login,
    },
    /// Write every active product as CSV, to --out or stdout.
    Export {
        #[arg(long)]
        out: Option<PathBuf>,
        #[command(flatten)]
        login: client::Login,
    },
}

pub(super) async fn run(command: CatalogCommand) -> anyhow::Result<()> {
    match command {
        CatalogCommand::Import {
            file,
            partial,
            login,
        } => {
            let client = Client::login(&login, 1).await?;
            let imported = catalog_file::import(&client, &file, partial, true).await?;
            let report = &imported.report;
            out!(
                "{}: {} rows in {:.1} s: {} created, {} updated, {} unchanged, {} rejected",
                file.display(),
                report["rows"],
                imported.elapsed.as_secs_f64(),
                report["created"],
                report["updated"],
                report["unchanged"],
                report["rejected"]
            );
            for error in report["errors"].as_array().into_iter().flatten() {
                out!(
                    "{}: line {}, column {}: {}: {}",
                    file.display(),
                    error["line"],
                    error["column"].as_str().unwrap_or(""),
                    error["code"].as_str().unwrap_or(""),
                    error["message"].as_str().unwrap_or("")
                );
            }
            anyhow::ensure!(
                report["rejected"].as_u64() == Some(0),
                "{} rows were left out",
                report["rejected"]
            );
        }
        CatalogCommand::Export { out, login } => {
            let client = Client::login(&login, 1).await?;
            let written = catalog_file::export(&client, out.as_deref()).await?;
            if let Some(path) = out {
                out!("{}: {written} bytes", path.display());
            }
        }
    }
    Ok(())
}
