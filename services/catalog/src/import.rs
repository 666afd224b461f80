//! Bulk CSV import and export of products.
//!
//! The file is read as it arrives (never whole in memory) on a blocking thread that
//! parses and validates rows, and written in chunks of [`CHUNK`] rows with one statement
//! per table per chunk. Rows are upserted by SKU: a new SKU is created, a changed one
//! updated, an unchanged one left alone, so importing the same file twice writes nothing
//! the second time. `all-or-nothing` rolls everything back when any row is bad;
//! `partial` writes the good rows. Either way every bad row is reported with its line,
//! column and reason.

use bazaar_schemas::events;
use std::{
    collections::{HashMap, HashSet},
    io::Read,
};

use bazaar_platform::{
    http::{ApiError, Invalid},
    money::Money,
    outbox,
};
use rust_decimal::Decimal;
use serde::{Deserialize, Serialize};
use sqlx::PgConnection;
use utoipa::ToSchema;
use uuid::Uuid;

use crate::Code;
use crate::{
    domain::{self, BarcodeKind, Unit},
    http::product_updated,
    store::{self, SERVICE},
};
use bazaar_platform::http::PlatformCode;

/// The file's columns, in export order. Import needs the header and accepts them in any
/// order; `sku`, `name`, `unit`, `gst_rate`, `mrp` and `selling_price` are required.
pub const COLUMNS: [&str; 15] = [
    "sku",
    "name",
    "description",
    "brand",
    "category",
    "unit",
    "hsn_code",
    "gst_rate",
    "cess_rate",
    "currency",
    "mrp",
    "selling_price",
    "tax_inclusive",
    "reorder_level",
    "barcodes",
];

const REQUIRED: [&str; 6] = ["sku", "name", "unit", "gst_rate", "mrp", "selling_price"];

/// Rows written per statement.
pub const CHUNK: usize = 1_000;

/// Bad rows reported in full; the count covers all of them.
const MAX_REPORTED: usize = 1_000;

/// One bad cell (or row).
#[derive(Debug, Clone, Serialize, Deserialize, ToSchema, PartialEq, Eq)]
pub struct RowError {
    /// Line in the file (the header is line 1).
    pub line: u64,
    /// The column, or empty for the whole row.
    pub column: String,
    /// Stable problem code.
    pub code: String,
    /// What is wrong.
    pub message: String,
}

/// `all-or-nothing` (default) or `partial`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize, utoipa::ToSchema)]
#[serde(rename_all = "kebab-case")]
pub enum Mode {
    /// Any bad row: nothing is written.
    AllOrNothing,
    /// Good rows are written, bad ones reported.
    Partial,
}

/// What an import did.
#[derive(Debug, Default, Serialize, Deserialize, ToSchema)]
pub struct ImportReport {
    /// Data rows read.
    pub rows: u64,
    /// Products created.
    pub created: u64,
    /// Products changed.
    pub updated: u64,
    /// Rows identical to the product already there.
    pub unchanged: u64,
    /// Bad rows (not written).
    pub rejected: u64,
    /// Categories created for paths the file named.
    pub categories_created: u64,
    /// The first bad cells, by line.
    pub errors: Vec<RowError>,
}

/// A valid row.
#[derive(Debug, Clone)]
pub(crate) struct Row {
    line: u64,
    sku: String,
    name: String,
    description: Option<String>,
    brand: Option<String>,
    category: Option<String>,
    unit: Unit,
    hsn_code: Option<String>,
    gst_rate_bp: i32,
    cess_rate_bp: i32,
    currency: String,
    mrp_minor: i64,
    selling_price_minor: i64,
    tax_inclusive: bool,
    reorder_level: Option<Decimal>,
    barcodes: Vec<(String, BarcodeKind)>,
}

/// What the reader thread hands over: rows, or the errors of one row.
pub(crate) type Parsed = Result<Row, Vec<RowError>>;

fn row_error(line: u64, invalid: Invalid) -> RowError {
    RowError {
        line,
        column: invalid.field,
        code: invalid.code.to_owned(),
        message: invalid.message,
    }
}

/// Reads and validates the CSV from `input`, sending rows in chunks. A file whose header
/// is unusable, or that cannot be read to its end, is refused whole.
pub(crate) fn read(
    input: impl Read,
    chunks: tokio::sync::mpsc::Sender<Vec<Parsed>>,
) -> Result<(), RowError> {
    let mut reader = csv::ReaderBuilder::new()
        .flexible(true)
        .trim(csv::Trim::All)
        .from_reader(input);
    let header = reader.headers().map_err(|err| csv_error(1, &err))?.clone();
    let mut index = HashMap::new();
    for (position, name) in header.iter().enumerate() {
        let name = name.trim_start_matches('\u{feff}').to_ascii_lowercase();
        if !COLUMNS.contains(&name.as_str()) {
            return Err(header_error(format!(
                "unknown column {name:?}; the columns are {}",
                COLUMNS.join(", ")
            )));
        }
        if index.insert(name.clone(), position).is_some() {
            return Err(header_error(format!("column {name:?} appears twice")));
        }
    }
    if let Some(missing) = REQUIRED.iter().find(|c| !index.contains_key(**c)) {
        return Err(header_error(format!(
            "the required column {missing:?} is missing"
        )));
    }
    let mut chunk = Vec::with_capacity(CHUNK);
    let mut record = csv::StringRecord::new();
    loop {
        let line = reader.position().line();
        match reader.read_record(&mut record) {
            Ok(false) => break,
            Ok(true) if record.iter().all(str::is_empty) => continue,
            Ok(true) => chunk.push(parse(line, &index, &record)),
            Err(err) if err.is_io_error() => {
                return Err(RowError {
                    line,
                    column: String::new(),
                    code: "unreadable_body".to_owned(),
                    message: err.to_string(),
                })
            }
            Err(err) => chunk.push(Err(vec![csv_error(line, &err)])),
        }
        if chunk.len() == CHUNK {
            let full = std::mem::replace(&mut chunk, Vec::with_capacity(CHUNK));
            if chunks.blocking_send(full).is_err() {
                return Ok(()); // the request went away
            }
        }
    }
    if !chunk.is_empty() {
        let _ = chunks.blocking_send(chunk);
    }
    Ok(())
}

/// The value, or None with its error recorded.
fn keep<T>(errors: &mut Vec<RowError>, line: u64, result: Result<T, Invalid>) -> Option<T> {
    match result {
        Ok(value) => Some(value),
        Err(invalid) => {
            errors.push(row_error(line, invalid));
            None
        }
    }
}

fn header_error(message: String) -> RowError {
    RowError {
        line: 1,
        column: String::new(),
        code: "invalid_header".to_owned(),
        message,
    }
}

fn csv_error(line: u64, err: &csv::Error) -> RowError {
    let line = err.position().map_or(line, csv::Position::line);
    RowError {
        line,
        column: String::new(),
        code: "unreadable_row".to_owned(),
        message: err.to_string(),
    }
}

/// Characters a spreadsheet takes as the start of a formula when a cell begins with them.
const FORMULA_STARTS: [char; 6] = ['=', '+', '-', '@', '\t', '\r'];

/// A cell as the export writes it: one a spreadsheet would run as a formula gets a
/// leading `'`, which the import takes off again, so export and import round-trip.
pub fn defused(cell: &str) -> std::borrow::Cow<'_, str> {
    if cell.starts_with(FORMULA_STARTS) {
        std::borrow::Cow::Owned(format!("'{cell}"))
    } else {
        std::borrow::Cow::Borrowed(cell)
    }
}

/// A cell as the import reads it: the export's `'` before a formula character taken off.
fn armed(cell: &str) -> &str {
    cell.strip_prefix('\'')
        .filter(|rest| rest.starts_with(FORMULA_STARTS))
        .unwrap_or(cell)
}

fn parse(line: u64, index: &HashMap<String, usize>, record: &csv::StringRecord) -> Parsed {
    let cell = |column: &str| -> Option<&str> {
        index
            .get(column)
            .and_then(|&i| record.get(i))
            .map(armed)
            .filter(|v| !v.is_empty())
    };
    let mut errors = Vec::new();
    // Any column, known or not: the file reaches the database as text.
    for (column, &i) in index {
        if record
            .get(i)
            .is_some_and(bazaar_platform::http::holds_control)
        {
            errors.push(row_error(
                line,
                Invalid::new(
                    column.clone(),
                    PlatformCode::InvalidCharacter,
                    "control characters are not text (tab, line feed and carriage return excepted)",
                ),
            ));
        }
    }
    let required = |column: &'static str| {
        cell(column)
            .ok_or_else(|| Invalid::new(column, Code::Required, "this column needs a value"))
    };
    let sku = keep(&mut errors, line, required("sku").and_then(domain::sku));
    let name = keep(
        &mut errors,
        line,
        required("name").and_then(|n| domain::text("name", n, 200)),
    );
    let unit = keep(&mut errors, line, required("unit").and_then(Unit::parse));
    let description = keep(
        &mut errors,
        line,
        cell("description")
            .map(|d| domain::bounded("description", d, domain::DESCRIPTION_MAX))
            .transpose(),
    )
    .flatten();
    let brand = keep(
        &mut errors,
        line,
        cell("brand")
            .map(|b| domain::bounded("brand", b, domain::BRAND_MAX))
            .transpose(),
    )
    .flatten();
    let hsn_code = keep(
        &mut errors,
        line,
        cell("hsn_code").map(domain::hsn).transpose(),
    )
    .flatten();
    let gst = keep(
        &mut errors,
        line,
        required("gst_rate").and_then(domain::gst_rate_bp),
    );
    let cess = keep(
        &mut errors,
        line,
        domain::cess_rate_bp(cell("cess_rate").unwrap_or("0")),
    );
    let currency = keep(
        &mut errors,
        line,
        bazaar_platform::money::Currency::from_code(cell("currency").unwrap_or("INR")).map_err(
            |err| Invalid::new("currency", PlatformCode::UnknownCurrency, err.to_string()),
        ),
    );
    let money = |column: &'static str, currency| {
        required(column).and_then(|text| {
            Money::parse(text, currency)
                .map_err(|err| Invalid::new(column, Code::InvalidPrice, err.to_string()))
        })
    };
    let prices = currency.and_then(|currency| {
        let mrp = keep(&mut errors, line, money("mrp", currency))?;
        let selling = keep(&mut errors, line, money("selling_price", currency))?;
        keep(&mut errors, line, domain::prices(mrp, selling))
    });
    let tax_inclusive = keep(
        &mut errors,
        line,
        match cell("tax_inclusive")
            .map(str::to_ascii_lowercase)
            .as_deref()
        {
            None | Some("true" | "yes" | "1") => Ok(true),
            Some("false" | "no" | "0") => Ok(false),
            Some(other) => Err(Invalid::new(
                "tax_inclusive",
                Code::InvalidBoolean,
                format!("{other:?}: use true or false"),
            )),
        },
    );
    let reorder_level = unit.and_then(|unit| {
        keep(
            &mut errors,
            line,
            cell("reorder_level")
                .map(|r| domain::reorder_level(r, unit))
                .transpose(),
        )
        .map(|q| q.map(|q| q.value()))
    });
    let barcodes = keep(
        &mut errors,
        line,
        cell("barcodes")
            .unwrap_or_default()
            .split(['|', ' '])
            .filter(|b| !b.is_empty())
            .map(|b| {
                domain::barcode(b).map_err(|e| Invalid::new("barcodes", e.problem(), e.message))
            })
            .collect::<Result<Vec<_>, _>>(),
    );
    let category = match cell("category") {
        None => Some(None),
        Some(path) => keep(&mut errors, line, category_path(path)).map(Some),
    };
    match (
        sku,
        name,
        unit,
        gst,
        cess,
        prices,
        tax_inclusive,
        reorder_level,
        barcodes,
        category,
    ) {
        (
            Some(sku),
            Some(name),
            Some(unit),
            Some(gst),
            Some(cess),
            Some((currency, mrp, selling)),
            Some(tax_inclusive),
            Some(reorder_level),
            Some(barcodes),
            Some(category),
        ) if errors.is_empty() => Ok(Row {
            line,
            sku,
            name,
            description: description.map(str::to_owned),
            brand: brand.map(str::to_owned),
            category,
            unit,
            hsn_code,
            gst_rate_bp: gst,
            cess_rate_bp: cess,
            currency: currency.code().to_owned(),
            mrp_minor: mrp,
            selling_price_minor: selling,
            tax_inclusive,
            reorder_level,
            barcodes,
        }),
        _ => Err(errors),
    }
}

/// A category path `Staples / Rice`, each name valid, normalized to single spaces around
/// the separators.
fn category_path(raw: &str) -> Result<String, Invalid> {
    let names: Vec<String> = raw
        .split('/')
        .map(|n| domain::text("category", n, 100))
        .collect::<Result<_, _>>()?;
    Ok(names.join(" / "))
}

/// Writes what the reader sends, in one transaction the caller commits or rolls back.
pub(crate) struct Importer {
    tenant: Uuid,
    user: Uuid,
    categories: HashMap<String, Uuid>,
    seen_skus: HashSet<String>,
    seen_barcodes: HashMap<String, String>,
    /// Products written when the statistics were last refreshed.
    analyzed_at: u64,
    report: ImportReport,
}

impl Importer {
    pub(crate) async fn new(
        tx: &mut PgConnection,
        tenant: Uuid,
        user: Uuid,
    ) -> Result<Self, ApiError> {
        // An import can grow the tables a hundredfold while it runs. A cached generic plan
        // made when they were small (nested loops over scans) would then take seconds per
        // chunk, so every statement here is planned for the tables as they are.
        sqlx::query("SET LOCAL plan_cache_mode = force_custom_plan")
            .execute(&mut *tx)
            .await?;
        let categories = store::categories(tx, tenant, i64::MAX, 0)
            .await?
            .into_iter()
            .map(|c| (c.path.to_lowercase(), c.id))
            .collect();
        Ok(Self {
            tenant,
            user,
            categories,
            seen_skus: HashSet::new(),
            seen_barcodes: HashMap::new(),
            analyzed_at: 0,
            report: ImportReport::default(),
        })
    }

    fn reject(&mut self, errors: Vec<RowError>) {
        self.report.rejected += 1;
        self.report.errors.extend(errors);
        // Keep the earliest lines: rows reach here in file order within a chunk, but
        // repeats and conflicts are found after the chunk's own errors.
        if self.report.errors.len() > 2 * MAX_REPORTED {
            self.trim_errors();
        }
    }

    fn trim_errors(&mut self) {
        self.report.errors.sort_by_key(|e| e.line);
        self.report.errors.truncate(MAX_REPORTED);
    }

    /// The report, with the first bad cells in line order.
    pub(crate) fn finish(mut self) -> ImportReport {
        self.trim_errors();
        self.report
    }

    /// Validates a chunk against the file so far and the database, then writes it.
    pub(crate) async fn chunk(
        &mut self,
        tx: &mut PgConnection,
        chunk: Vec<Parsed>,
    ) -> Result<(), ApiError> {
        let mut rows = Vec::with_capacity(chunk.len());
        for parsed in chunk {
            self.report.rows += 1;
            match parsed {
                Ok(row) => rows.push(row),
                Err(errors) => self.reject(errors),
            }
        }
        // Repeats inside the file: the first occurrence wins.
        let mut fresh = Vec::with_capacity(rows.len());
        for row in rows {
            let repeated = |column: &str, message: String| RowError {
                line: row.line,
                column: column.to_owned(),
                code: "repeated_in_file".to_owned(),
                message,
            };
            if self.seen_skus.contains(&row.sku) {
                let error = repeated("sku", format!("SKU {} is on an earlier line", row.sku));
                self.reject(vec![error]);
                continue;
            }
            if let Some((code, _)) = row.barcodes.iter().find(|(code, _)| {
                self.seen_barcodes
                    .get(code)
                    .is_some_and(|sku| sku != &row.sku)
            }) {
                let error = repeated("barcodes", format!("barcode {code} is on an earlier line"));
                self.reject(vec![error]);
                continue;
            }
            self.seen_skus.insert(row.sku.clone());
            for (code, _) in &row.barcodes {
                self.seen_barcodes.insert(code.clone(), row.sku.clone());
            }
            fresh.push(row);
        }

        let skus: Vec<String> = fresh.iter().map(|r| r.sku.clone()).collect();
        let existing: HashMap<String, store::ProductRow> =
            store::products_by_sku(tx, self.tenant, &skus)
                .await?
                .into_iter()
                .map(|p| (p.sku.clone(), p))
                .collect();
        let codes: Vec<String> = fresh
            .iter()
            .flat_map(|r| r.barcodes.iter().map(|(c, _)| c.clone()))
            .collect();
        let owners: HashMap<String, String> = store::barcode_owners(tx, self.tenant, &codes)
            .await?
            .into_iter()
            .collect();

        let mut creates = Vec::new();
        let mut updates = Vec::new();
        for row in fresh {
            let current = existing.get(&row.sku);
            if let Some((code, owner)) = row.barcodes.iter().find_map(|(code, _)| {
                owners
                    .get(code)
                    .filter(|sku| **sku != row.sku)
                    .map(|owner| (code, owner))
            }) {
                let error = RowError {
                    line: row.line,
                    column: "barcodes".to_owned(),
                    code: "barcode_taken".to_owned(),
                    message: format!("barcode {code} identifies {owner}"),
                };
                self.reject(vec![error]);
                continue;
            }
            match current {
                None => creates.push(row),
                Some(product) => match changes(product, &row) {
                    Err(error) => self.reject(vec![error]),
                    Ok(false) => self.report.unchanged += 1,
                    Ok(true) => updates.push((product.clone(), row)),
                },
            }
        }
        self.create(tx, creates).await?;
        self.update(tx, updates).await?;
        // Each time the import has doubled what it wrote, the planner learns the new
        // sizes (see migrations/catalog/..._bulk_import.sql).
        let written = self.report.created + self.report.updated;
        if written >= CHUNK as u64 && written >= 2 * self.analyzed_at {
            sqlx::query("SELECT refresh_catalog_statistics()")
                .execute(&mut *tx)
                .await?;
            self.analyzed_at = written;
        }
        Ok(())
    }

    async fn category(&mut self, tx: &mut PgConnection, path: &str) -> Result<Uuid, ApiError> {
        if let Some(id) = self.categories.get(&path.to_lowercase()) {
            return Ok(*id);
        }
        let mut parent = None;
        let mut so_far = String::new();
        for name in path.split(" / ") {
            so_far = if so_far.is_empty() {
                name.to_owned()
            } else {
                format!("{so_far} / {name}")
            };
            if let Some(id) = self.categories.get(&so_far.to_lowercase()) {
                parent = Some(*id);
                continue;
            }
            let event = events::catalog::CategoryCreated {
                tenant_id: self.tenant,
                category_id: Uuid::now_v7(),
                parent_id: parent,
                name: name.to_owned(),
                path: so_far.clone(),
                created_at: bazaar_schemas::now_millis(),
            };
            let created = store::category_created(tx, &event).await?.ok_or_else(|| {
                ApiError::new(
                    Code::CategoryExists,
                    format!("category {so_far:?} was created meanwhile"),
                )
            })?;
            store::event(tx, self.tenant, created.id, &event).await?;
            self.categories.insert(so_far.to_lowercase(), created.id);
            self.report.categories_created += 1;
            parent = Some(created.id);
        }
        parent.ok_or_else(|| ApiError::internal("an empty category path"))
    }

    async fn create(&mut self, tx: &mut PgConnection, rows: Vec<Row>) -> Result<(), ApiError> {
        if rows.is_empty() {
            return Ok(());
        }
        let mut new = Vec::with_capacity(rows.len());
        for row in &rows {
            let category = match &row.category {
                Some(path) => Some(self.category(tx, path).await?),
                None => None,
            };
            new.push((Uuid::now_v7(), category));
        }
        let created: Vec<(Uuid, String, events::catalog::ProductCreated)> = rows
            .iter()
            .zip(&new)
            .map(|(r, (id, category))| {
                let event = events::catalog::ProductCreated {
                    tenant_id: self.tenant,
                    product_id: *id,
                    sku: r.sku.clone(),
                    name: r.name.clone(),
                    description: r.description.clone(),
                    brand: r.brand.clone(),
                    category_id: *category,
                    variant_of: None,
                    attributes: Default::default(),
                    unit: r.unit.code().to_owned(),
                    unit_decimals: r.unit.decimals() as i32,
                    hsn_code: r.hsn_code.clone(),
                    gst_rate_bp: r.gst_rate_bp,
                    cess_rate_bp: r.cess_rate_bp,
                    currency: r.currency.clone(),
                    mrp_minor: r.mrp_minor,
                    selling_price_minor: r.selling_price_minor,
                    tax_inclusive: r.tax_inclusive,
                    reorder_level: r.reorder_level.map(|q| q.normalize().to_string()),
                    created_at: bazaar_schemas::now_millis(),
                };
                (self.tenant, id.to_string(), event)
            })
            .collect();
        let events: Vec<&events::catalog::ProductCreated> =
            created.iter().map(|(_, _, e)| e).collect();
        // Another import (or a create) took one of these SKUs since this chunk was
        // checked: retrying the file upserts it instead.
        if store::products_created(tx, &events).await? < events.len() as u64 {
            return Err(ApiError::new(
                Code::ConcurrentImport,
                "another import created some of these SKUs meanwhile; retry the file",
            ));
        }
        outbox::append_all_events(tx, SERVICE, &created).await?;
        let barcodes: Vec<(Uuid, &str, BarcodeKind)> = rows
            .iter()
            .zip(&new)
            .flat_map(|(r, (id, _))| {
                r.barcodes
                    .iter()
                    .map(|(code, kind)| (*id, code.as_str(), *kind))
            })
            .collect();
        self.attach(tx, &barcodes).await?;
        self.report.created += rows.len() as u64;
        Ok(())
    }

    async fn attach(
        &mut self,
        tx: &mut PgConnection,
        barcodes: &[(Uuid, &str, BarcodeKind)],
    ) -> Result<(), ApiError> {
        if barcodes.is_empty() {
            return Ok(());
        }
        let events: Vec<(Uuid, String, events::catalog::BarcodeAssigned)> = barcodes
            .iter()
            .map(|(product, code, kind)| {
                (
                    self.tenant,
                    product.to_string(),
                    events::catalog::BarcodeAssigned {
                        tenant_id: self.tenant,
                        product_id: *product,
                        barcode: (*code).to_owned(),
                        kind: kind.code().to_owned(),
                        assigned_at: bazaar_schemas::now_millis(),
                    },
                )
            })
            .collect();
        let assigned: Vec<&events::catalog::BarcodeAssigned> =
            events.iter().map(|(_, _, e)| e).collect();
        // The chunk was checked against the codes in use; one taken since is another
        // import's doing.
        if store::barcodes_assigned(tx, &assigned).await? < assigned.len() as u64 {
            return Err(ApiError::new(
                Code::ConcurrentImport,
                "another import assigned some of these barcodes meanwhile; retry the file",
            ));
        }
        outbox::append_all_events(tx, SERVICE, &events).await?;
        Ok(())
    }

    async fn update(
        &mut self,
        tx: &mut PgConnection,
        rows: Vec<(store::ProductRow, Row)>,
    ) -> Result<(), ApiError> {
        let mut barcodes = Vec::new();
        for (mut product, row) in rows {
            let category = match &row.category {
                Some(path) => Some(self.category(tx, path).await?),
                None => None,
            };
            let described = (
                &product.name,
                &product.description,
                &product.brand,
                product.category_id,
                &product.hsn_code,
                product.gst_rate_bp,
                product.cess_rate_bp,
                product.tax_inclusive,
                product.reorder_level,
            ) != (
                &row.name,
                &row.description,
                &row.brand,
                category,
                &row.hsn_code,
                row.gst_rate_bp,
                row.cess_rate_bp,
                row.tax_inclusive,
                row.reorder_level,
            );
            if described {
                product.name = row.name.clone();
                product.description = row.description.clone();
                product.brand = row.brand.clone();
                product.category_id = category;
                product.hsn_code = row.hsn_code.clone();
                product.gst_rate_bp = row.gst_rate_bp;
                product.cess_rate_bp = row.cess_rate_bp;
                product.tax_inclusive = row.tax_inclusive;
                product.reorder_level = row.reorder_level;
                let event = product_updated(&product);
                store::product_updated(tx, &event).await?;
                store::event(tx, self.tenant, product.id, &event).await?;
            }
            if (product.mrp_minor, product.selling_price_minor)
                != (row.mrp_minor, row.selling_price_minor)
            {
                let changed = events::catalog::PriceChanged {
                    tenant_id: self.tenant,
                    product_id: product.id,
                    sku: product.sku.clone(),
                    currency: product.currency.code().to_owned(),
                    mrp_minor_before: product.mrp_minor,
                    mrp_minor: row.mrp_minor,
                    selling_price_minor_before: product.selling_price_minor,
                    selling_price_minor: row.selling_price_minor,
                    changed_by: self.user,
                    changed_at: bazaar_schemas::now_millis(),
                };
                store::price_changed(tx, &changed).await?;
                store::event(tx, self.tenant, product.id, &changed).await?;
                let audited = domain::price_audited(&changed);
                store::event(tx, self.tenant, self.tenant, &audited).await?;
            }
            for (code, kind) in &row.barcodes {
                if !product.barcodes.contains(code) {
                    barcodes.push((product.id, code.clone(), *kind));
                }
            }
            self.report.updated += 1;
        }
        let barcodes: Vec<(Uuid, &str, BarcodeKind)> = barcodes
            .iter()
            .map(|(p, c, k)| (*p, c.as_str(), *k))
            .collect();
        self.attach(tx, &barcodes).await
    }
}

/// Whether `row` changes `product`, or why it cannot.
fn changes(product: &store::ProductRow, row: &Row) -> Result<bool, RowError> {
    let refuse = |column: &str, code: &str, message: String| RowError {
        line: row.line,
        column: column.to_owned(),
        code: code.to_owned(),
        message,
    };
    if product.archived_at.is_some() {
        return Err(refuse(
            "sku",
            "product_archived",
            format!("{} is archived", row.sku),
        ));
    }
    if product.unit != row.unit.code() {
        return Err(refuse(
            "unit",
            "unit_changed",
            format!(
                "{} is sold in {}; a unit cannot change",
                row.sku, product.unit
            ),
        ));
    }
    if product.currency.code() != row.currency {
        return Err(refuse(
            "currency",
            "currency_mismatch",
            format!("{} is priced in {}", row.sku, product.currency),
        ));
    }
    let same = product.name == row.name
        && product.description == row.description
        && product.brand == row.brand
        && product.hsn_code == row.hsn_code
        && product.gst_rate_bp == row.gst_rate_bp
        && product.cess_rate_bp == row.cess_rate_bp
        && product.tax_inclusive == row.tax_inclusive
        && product.reorder_level.map(|q| q.normalize()) == row.reorder_level.map(|q| q.normalize())
        && product.mrp_minor == row.mrp_minor
        && product.selling_price_minor == row.selling_price_minor
        && row
            .barcodes
            .iter()
            .all(|(code, _)| product.barcodes.contains(code));
    // The category is compared by path where the caller knows paths: a row naming a
    // category the product lacks (or another) is a change.
    Ok(!same || row.category.as_deref().map(str::to_lowercase) != product_category_path(product))
}

fn product_category_path(product: &store::ProductRow) -> Option<String> {
    product.category_path.as_deref().map(str::to_lowercase)
}

/// One product as a CSV record, in [`COLUMNS`] order.
pub(crate) fn record(product: &store::ProductRow) -> [String; 15] {
    let money = |minor| product.money(minor).major().to_string();
    let percent = |bp: i32| {
        if bp % 100 == 0 {
            (bp / 100).to_string()
        } else {
            format!("{}.{:02}", bp / 100, bp % 100)
        }
    };
    [
        product.sku.clone(),
        product.name.clone(),
        product.description.clone().unwrap_or_default(),
        product.brand.clone().unwrap_or_default(),
        product.category_path.clone().unwrap_or_default(),
        product.unit.clone(),
        product.hsn_code.clone().unwrap_or_default(),
        percent(product.gst_rate_bp),
        percent(product.cess_rate_bp),
        product.currency.code().to_owned(),
        money(product.mrp_minor),
        money(product.selling_price_minor),
        product.tax_inclusive.to_string(),
        product
            .reorder_level
            .map(|q| q.normalize().to_string())
            .unwrap_or_default(),
        product.barcodes.join("|"),
    ]
}
