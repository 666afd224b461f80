//! `bazaar catalog import FILE.csv` and `bazaar catalog export`: the catalog's CSV
//! through a running Bazaar's API, with a progress bar while the file uploads.

use std::path::Path;

use anyhow::Context;
use futures::TryStreamExt;
use serde_json::Value;

use crate::client::{problem, Client};

/// What an import did, as the API reports it.
pub(crate) struct Imported {
    pub(crate) report: Value,
    pub(crate) elapsed: std::time::Duration,
}

/// Streams `file` to `POST /api/v1/products/bulk-import`; `progress` shows the upload.
pub(crate) async fn import(
    client: &Client,
    file: &Path,
    partial: bool,
    progress: bool,
) -> anyhow::Result<Imported> {
    let opened = tokio::fs::File::open(file)
        .await
        .with_context(|| format!("{}: cannot open", file.display()))?;
    let size = opened.metadata().await?.len();
    let bar = if progress {
        indicatif::ProgressBar::new(size)
    } else {
        indicatif::ProgressBar::hidden()
    };
    bar.set_style(
        indicatif::ProgressStyle::with_template(
            "{msg} [{bar:40}] {bytes}/{total_bytes} ({bytes_per_sec}, {eta})",
        )?
        .progress_chars("=> "),
    );
    bar.set_message("uploading");
    let counted = bar.clone();
    let stream = tokio_util::io::ReaderStream::new(opened).inspect_ok(move |chunk| {
        counted.inc(chunk.len() as u64);
    });
    let mode = if partial { "partial" } else { "all-or-nothing" };
    let started = std::time::Instant::now();
    let response = client
        .request(
            reqwest::Method::POST,
            &format!("/api/v1/products/bulk-import?mode={mode}"),
        )
        .header(reqwest::header::CONTENT_TYPE, "text/csv")
        .body(reqwest::Body::wrap_stream(stream))
        .send()
        .await;
    bar.finish_and_clear();
    let response = response?;
    let report: Value = problem(response)
        .await
        .map_err(|err| {
            // Every offending line names the file, so editors can jump to it.
            let file = file.display().to_string();
            anyhow::anyhow!(
                "{file}: {}",
                err.to_string().replace("\n  ", &format!("\n{file}: "))
            )
        })?
        .json()
        .await?;
    Ok(Imported {
        report,
        elapsed: started.elapsed(),
    })
}

/// Writes `GET /api/v1/products/export` to `out` (or stdout).
pub(crate) async fn export(client: &Client, out: Option<&Path>) -> anyhow::Result<u64> {
    let response = problem(
        client
            .request(reqwest::Method::GET, "/api/v1/products/export")
            .send()
            .await?,
    )
    .await?;
    let mut bytes = response.bytes_stream();
    let mut sink: Box<dyn tokio::io::AsyncWrite + Unpin> = match out {
        Some(path) => Box::new(
            tokio::fs::File::create(path)
                .await
                .with_context(|| format!("{}: cannot create", path.display()))?,
        ),
        None => Box::new(tokio::io::stdout()),
    };
    let mut written = 0;
    while let Some(chunk) = bytes.try_next().await? {
        tokio::io::AsyncWriteExt::write_all(&mut sink, &chunk).await?;
        written += chunk.len() as u64;
    }
    tokio::io::AsyncWriteExt::flush(&mut sink).await?;
    Ok(written)
}
