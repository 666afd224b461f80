//! Finance's API: the chart of accounts, manual journal entries, closing a month, and the
//! reports (trial balance, profit and loss, balance sheet, account ledger, day book), by
//! store or consolidated, as JSON or CSV; and the GST returns.

use bazaar_schemas::events;
use std::sync::Arc;

use axum::{
    extract::State,
    http::{header, StatusCode},
    response::{IntoResponse, Response},
    routing::{get, post},
    Router,
};
use bazaar_platform::{
    auth::{self, Principal, Role, Stores, Verifier},
    db,
    http::{ApiError, Invalid, Json, Page, Path, Query},
    money::{amount_field, checked_sum, MoneyError},
    outbox, stores, ServiceContext,
};
use chrono::{NaiveDate, Utc};
use serde::{Deserialize, Serialize};
use sqlx::{PgConnection, PgPool};
use utoipa::{IntoParams, OpenApi, ToSchema};
use uuid::Uuid;

use crate::Code;
use crate::{
    chart::{self, Kind},
    gst,
    journal::{self, JournalError, NewEntry, NewLine},
    store::{self, Account, Balance, Entry, EntryLine, LedgerLine},
    SERVICE,
};
use bazaar_platform::http::PlatformCode;

/// Who reads the books.
const READERS: &[Role] = &[Role::Owner, Role::Admin, Role::Accountant];
/// Who writes them by hand and closes months.
const ACCOUNTANTS: &[Role] = &[Role::Owner, Role::Accountant];

/// Finance's routes; each names the roles it admits.
pub fn router(ctx: ServiceContext) -> Router {
    let v: &Arc<Verifier> = &ctx.verifier;
    Router::new()
        .route(
            "/api/v1/finance/accounts",
            get(accounts)
                .route_layer(auth::allow(v, READERS))
                .merge(post(add_account).route_layer(auth::allow(v, ACCOUNTANTS))),
        )
        .route(
            "/api/v1/finance/accounts/{code}/ledger",
            get(account_ledger).route_layer(auth::allow(v, READERS)),
        )
        .route(
            "/api/v1/finance/journal-entry",
            post(post_entry).route_layer(auth::allow(v, ACCOUNTANTS)),
        )
        .route(
            "/api/v1/finance/day-book",
            get(day_book).route_layer(auth::allow(v, READERS)),
        )
        .route(
            "/api/v1/finance/trial-balance",
            get(trial_balance).route_layer(auth::allow(v, READERS)),
        )
        .route(
            "/api/v1/finance/profit-and-loss",
            get(profit_and_loss).route_layer(auth::allow(v, READERS)),
        )
        .route(
            "/api/v1/finance/balance-sheet",
            get(balance_sheet).route_layer(auth::allow(v, READERS)),
        )
        .route(
            "/api/v1/finance/periods/{month}/close",
            post(close_period).route_layer(auth::allow(v, ACCOUNTANTS)),
        )
        .route(
            "/api/v1/finance/gst/gstr1",
            get(gstr1).route_layer(auth::allow(v, READERS)),
        )
        .route(
            "/api/v1/finance/gst/gstr3b",
            get(gstr3b).route_layer(auth::allow(v, READERS)),
        )
        .with_state(ctx.pool)
}

/// Finance's part of the OpenAPI document.
#[derive(OpenApi)]
#[openapi(
    paths(accounts, add_account, post_entry, day_book, trial_balance, profit_and_loss,
          balance_sheet, account_ledger, close_period, gstr1, gstr3b),
    components(schemas(Account, NewAccount, ManualEntry, ManualLine, Entry, EntryLine, Balance,
                       TrialBalance, ProfitAndLoss, BalanceSheet, AccountLedger, LedgerLine,
                       PeriodClosed, gst::Gstr1, gst::Gstr3b, gst::Tax, gst::Heads, gst::SetOff,
                       gst::RateItem, gst::InvoiceEntry, gst::NoteEntry, gst::B2csRow, gst::HsnRow,
                       gst::DocumentCounts)),
    tags((name = "finance", description = "The general ledger and its reports"))
)]
pub struct FinanceApi;

async fn begin(
    pool: &PgPool,
    tenant: Uuid,
) -> Result<sqlx::Transaction<'static, sqlx::Postgres>, ApiError> {
    let mut tx = db::begin_for_tenant(pool, tenant).await?;
    chart::ensure(&mut tx, tenant).await?;
    Ok(tx)
}

/// The books a request names by `store`: one of the tenant's stores within the caller's
/// reach (else 404 `unknown_store`); with no store, the whole tenant's (or the head
/// office's), which only a user of every store sees (else 403 `reach_beyond_own`).
async fn books_of(
    tx: &mut PgConnection,
    principal: &Principal,
    store: Option<Uuid>,
    field: &str,
) -> Result<Option<Uuid>, ApiError> {
    match store {
        Some(store) => stores::require(tx, principal, store, field).await?,
        None if !matches!(principal.stores, Stores::All(_)) => {
            return Err(ApiError::new( Code::ReachBeyondOwn,
                format!("{field}: name one of your stores; the whole tenant's books need access to every store"),
            ))
        }
        None => {}
    }
    Ok(store)
}

/// Report arithmetic that would overflow: the books hold more than `i64` minor units,
/// which no amount check lets in, so it is a fault of ours, not the caller's.
fn overflow(err: MoneyError) -> ApiError {
    ApiError::internal(format!("report totals: {err}"))
}

impl From<JournalError> for ApiError {
    fn from(err: JournalError) -> Self {
        match err {
            JournalError::Unbalanced { .. } => Self::new(Code::UnbalancedEntry, err.to_string()),
            JournalError::OneSided(_) => Self::new(Code::InvalidLine, err.to_string()),
            JournalError::OutOfRange(_) => {
                Self::new(PlatformCode::AmountOutOfRange, err.to_string())
            }
            JournalError::UnknownAccount(_) => Self::new(Code::UnknownAccount, err.to_string()),
            JournalError::PeriodClosed(_) => Self::new(Code::PeriodClosed, err.to_string()),
            JournalError::Database(e) => e.into(),
            JournalError::Outbox(e) => e.into(),
        }
    }
}

// ---------------------------------------------------------------- accounts

/// The tenant's chart of accounts, by code (seeded from the retail template), a page at a
/// time like every list.
#[utoipa::path(get, path = "/api/v1/finance/accounts", tag = "finance", params(Page),
    security(("bearer" = [])), responses((status = 200, body = Vec<Account>)))]
async fn accounts(
    State(pool): State<PgPool>,
    principal: Principal,
    Query(page): Query<Page>,
) -> Result<Json<Vec<Account>>, ApiError> {
    let mut tx = begin(&pool, principal.tenant).await?;
    let rows = store::accounts(&mut tx, principal.tenant, page.limit(), page.offset()).await?;
    tx.commit().await?;
    Ok(Json(rows))
}

/// An account to add.
#[derive(Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub(crate) struct NewAccount {
    /// 4 to 6 digits, unique.
    code: String,
    name: String,
    /// asset, liability, equity, income or expense.
    kind: String,
}

/// Adds an account. Accounts are never deleted: an account with postings is history.
#[utoipa::path(post, path = "/api/v1/finance/accounts", tag = "finance", request_body = NewAccount,
    security(("bearer" = [])),
    responses((status = 201, body = Account), (status = 409, description = "`account_exists`"),
              (status = 422, description = "`invalid_code`, `invalid_name`, `invalid_kind`")))]
async fn add_account(
    State(pool): State<PgPool>,
    principal: Principal,
    Json(body): Json<NewAccount>,
) -> Result<(StatusCode, Json<Account>), ApiError> {
    let code = body.code.trim();
    if !(4..=6).contains(&code.len()) || !code.bytes().all(|b| b.is_ascii_digit()) {
        return Err(Invalid::new("code", Code::InvalidCode, "4 to 6 digits").into());
    }
    let name = body.name.trim();
    if name.is_empty() || name.chars().count() > 120 {
        return Err(Invalid::new("name", Code::InvalidName, "1 to 120 characters").into());
    }
    let kind = Kind::parse(body.kind.trim()).ok_or_else(|| {
        Invalid::new(
            "kind",
            Code::InvalidKind,
            "asset, liability, equity, income or expense",
        )
    })?;
    let mut tx = begin(&pool, principal.tenant).await?;
    if !store::add_account(&mut tx, principal.tenant, code, name, kind).await? {
        return Err(ApiError::new(
            Code::AccountExists,
            format!("account {code} exists"),
        ));
    }
    tx.commit().await?;
    Ok((
        StatusCode::CREATED,
        Json(Account {
            code: code.to_owned(),
            name: name.to_owned(),
            kind: kind.code().to_owned(),
            role: None,
        }),
    ))
}

// ---------------------------------------------------------------- journal

/// A manual journal entry.
#[derive(Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub(crate) struct ManualEntry {
    /// The entry's own id: sending it again returns the first entry.
    id: Uuid,
    /// The posting date; its month must be open.
    date: NaiveDate,
    narration: String,
    /// The entry it corrects by reversing it, if any.
    reverses: Option<Uuid>,
    lines: Vec<ManualLine>,
}

/// One line of a manual entry: a debit or a credit.
#[derive(Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub(crate) struct ManualLine {
    account_code: String,
    store_id: Option<Uuid>,
    #[serde(default)]
    debit_minor: i64,
    #[serde(default)]
    credit_minor: i64,
}

/// Posts a manual entry: it must balance, name the tenant's accounts and fall in an open
/// month. Emits `finance.entry.posted` and `audit.journal.manual_entry`.
#[utoipa::path(post, path = "/api/v1/finance/journal-entry", tag = "finance", request_body = ManualEntry,
    security(("bearer" = [])),
    responses((status = 201, body = Entry), (status = 200, body = Entry, description = "sent before"),
              (status = 403, description = "`reach_beyond_own`: a head-office line, by a user of some stores"),
              (status = 404, description = "`unknown_store`"),
              (status = 409, description = "`period_closed`"),
              (status = 422, description = "`unbalanced_entry`, `invalid_line`, `unknown_account`, `invalid_narration`, `unknown_entry`")))]
async fn post_entry(
    State(pool): State<PgPool>,
    principal: Principal,
    Json(body): Json<ManualEntry>,
) -> Result<(StatusCode, Json<Entry>), ApiError> {
    let narration = body.narration.trim();
    if narration.is_empty() || narration.chars().count() > 500 {
        return Err(
            Invalid::new("narration", Code::InvalidNarration, "1 to 500 characters").into(),
        );
    }
    bazaar_platform::http::line_count("lines", body.lines.len())?;
    // Only the upper bound here: a negative amount is the journal's `invalid_line`.
    for (index, line) in body.lines.iter().enumerate() {
        amount_field(
            &format!("lines[{index}].debit_minor"),
            line.debit_minor.max(0),
        )?;
        amount_field(
            &format!("lines[{index}].credit_minor"),
            line.credit_minor.max(0),
        )?;
    }
    let tenant = principal.tenant;
    let mut tx = begin(&pool, tenant).await?;
    if let Some(existing) = store::entry(&mut tx, tenant, body.id).await? {
        return Ok((StatusCode::OK, Json(existing)));
    }
    // Each store once: an entry's lines mostly share one.
    let mut checked = Vec::new();
    for (index, line) in body.lines.iter().enumerate() {
        if checked.contains(&line.store_id) {
            continue;
        }
        books_of(
            &mut tx,
            &principal,
            line.store_id,
            &format!("lines[{index}].store_id"),
        )
        .await?;
        checked.push(line.store_id);
    }
    if let Some(reversed) = body.reverses {
        if store::entry(&mut tx, tenant, reversed).await?.is_none() {
            return Err(Invalid::new(
                "reverses",
                Code::UnknownEntry,
                format!("no entry {reversed}"),
            )
            .into());
        }
    }
    let new = NewEntry {
        id: body.id,
        date: body.date,
        narration: narration.to_owned(),
        document: None,
        currency: "INR".to_owned(),
        lines: body
            .lines
            .iter()
            .map(|l| NewLine {
                account_code: l.account_code.trim().to_owned(),
                store: l.store_id,
                debit: l.debit_minor,
                credit: l.credit_minor,
            })
            .collect(),
        source: "manual".to_owned(),
        source_event_id: None,
        reverses: body.reverses,
        posted_by: Some(principal.user),
        posted_at: None,
    };
    journal::post(&mut tx, tenant, &new).await?;
    let audited = events::audit::ManualJournalEntry {
        tenant_id: tenant,
        entry_id: new.id,
        posting_date: new.date.to_string(),
        narration: narration.to_owned(),
        currency: new.currency.clone(),
        // Balanced, so the debits' checked sum fitted.
        total_minor: checked_sum(new.lines.iter().map(|l| l.debit)).map_err(ApiError::internal)?,
        reverses: new.reverses,
        posted_by: principal.user,
        posted_at: bazaar_schemas::now_millis(),
    };
    // The audit topic is keyed by tenant.
    outbox::append_event(&mut tx, SERVICE, tenant, &tenant.to_string(), &audited).await?;
    let stored = store::entry(&mut tx, tenant, new.id)
        .await?
        .ok_or_else(|| ApiError::internal("the entry vanished"))?;
    tx.commit().await?;
    Ok((StatusCode::CREATED, Json(stored)))
}

/// A day's entries; JSON or CSV.
#[derive(Deserialize, IntoParams)]
pub(crate) struct DayBookQuery {
    date: NaiveDate,
    /// Only lines of this store.
    store_id: Option<Uuid>,
    /// `json` (default) or `csv`.
    format: Option<String>,
}

/// The day book: every entry of a day with its lines, in posting order.
#[utoipa::path(get, path = "/api/v1/finance/day-book", tag = "finance", params(DayBookQuery),
    security(("bearer" = [])), responses((status = 200, body = Vec<Entry>),
              (status = 403, description = "`reach_beyond_own`: the whole tenant's books, by a user of some stores"), (status = 404, description = "`unknown_store`"),
              (status = 422, description = "`invalid_format` (format is csv or json)")))]
async fn day_book(
    State(pool): State<PgPool>,
    principal: Principal,
    Query(q): Query<DayBookQuery>,
) -> Result<Response, ApiError> {
    let csv = wants_csv(q.format.as_deref())?;
    let mut tx = begin(&pool, principal.tenant).await?;
    let books = books_of(&mut tx, &principal, q.store_id, "store_id").await?;
    let entries: Vec<Entry> = store::day_book(&mut tx, principal.tenant, q.date, books)
        .await?
        .into_iter()
        .filter(|e| !e.lines.is_empty())
        .collect();
    tx.commit().await?;
    if !csv {
        return Ok(Json(entries).into_response());
    }
    let mut rows = vec![csv_record(&[
        "date",
        "entry_id",
        "narration",
        "document",
        "account_code",
        "account_name",
        "store_id",
        "debit_minor",
        "credit_minor",
    ])];
    for e in &entries {
        for l in &e.lines {
            rows.push(csv_record(&[
                &e.posting_date.to_string(),
                &e.id.to_string(),
                &e.narration,
                e.document.as_deref().unwrap_or(""),
                &l.account_code,
                &l.account_name,
                &l.store_id.map(|s| s.to_string()).unwrap_or_default(),
                &l.debit_minor.to_string(),
                &l.credit_minor.to_string(),
            ]));
        }
    }
    Ok(csv_response("day-book.csv", rows))
}

// ---------------------------------------------------------------- reports

/// As of a date, by store or consolidated.
#[derive(Deserialize, IntoParams)]
pub(crate) struct AsOf {
    /// Default: today.
    as_of: Option<NaiveDate>,
    store_id: Option<Uuid>,
    /// `json` (default) or `csv`.
    format: Option<String>,
}

/// The trial balance.
#[derive(Debug, Serialize, Deserialize, ToSchema)]
pub(crate) struct TrialBalance {
    as_of: NaiveDate,
    store_id: Option<Uuid>,
    /// Accounts with postings.
    accounts: Vec<Balance>,
    total_debit_minor: i64,
    total_credit_minor: i64,
}

/// The trial balance as of a date: every account with postings, its debits, credits and
/// balance; the two totals are equal.
#[utoipa::path(get, path = "/api/v1/finance/trial-balance", tag = "finance", params(AsOf),
    security(("bearer" = [])), responses((status = 200, body = TrialBalance),
              (status = 403, description = "`reach_beyond_own`: the whole tenant's books, by a user of some stores"), (status = 404, description = "`unknown_store`"),
              (status = 422, description = "`invalid_format` (format is csv or json)")))]
async fn trial_balance(
    State(pool): State<PgPool>,
    principal: Principal,
    Query(q): Query<AsOf>,
) -> Result<Response, ApiError> {
    let csv = wants_csv(q.format.as_deref())?;
    let as_of = q.as_of.unwrap_or_else(|| Utc::now().date_naive());
    let mut tx = begin(&pool, principal.tenant).await?;
    let books = books_of(&mut tx, &principal, q.store_id, "store_id").await?;
    let accounts: Vec<Balance> = store::balances(&mut tx, principal.tenant, None, as_of, books)
        .await?
        .into_iter()
        .filter(|b| b.debit_minor != 0 || b.credit_minor != 0)
        .collect();
    tx.commit().await?;
    let report = TrialBalance {
        as_of,
        store_id: q.store_id,
        total_debit_minor: checked_sum(accounts.iter().map(|b| b.debit_minor)).map_err(overflow)?,
        total_credit_minor: checked_sum(accounts.iter().map(|b| b.credit_minor))
            .map_err(overflow)?,
        accounts,
    };
    if !csv {
        return Ok(Json(report).into_response());
    }
    let mut rows = vec![csv_record(&[
        "code",
        "name",
        "kind",
        "debit_minor",
        "credit_minor",
        "balance_minor",
    ])];
    for b in &report.accounts {
        rows.push(csv_record(&[
            &b.code,
            &b.name,
            &b.kind,
            &b.debit_minor.to_string(),
            &b.credit_minor.to_string(),
            &b.balance_minor.to_string(),
        ]));
    }
    rows.push(csv_record(&[
        "",
        "Total",
        "",
        &report.total_debit_minor.to_string(),
        &report.total_credit_minor.to_string(),
        "",
    ]));
    Ok(csv_response("trial-balance.csv", rows))
}

/// A period, by store or consolidated.
#[derive(Deserialize, IntoParams)]
pub(crate) struct Period {
    from: NaiveDate,
    to: NaiveDate,
    store_id: Option<Uuid>,
}

/// Profit and loss for a period.
#[derive(Debug, Serialize, Deserialize, ToSchema)]
pub(crate) struct ProfitAndLoss {
    from: NaiveDate,
    to: NaiveDate,
    store_id: Option<Uuid>,
    /// Income accounts, credits less debits (sales returns are negative).
    income: Vec<Balance>,
    /// Expense accounts, debits less credits.
    expenses: Vec<Balance>,
    income_minor: i64,
    expenses_minor: i64,
    /// Income less expenses.
    net_profit_minor: i64,
}

fn of_kind(rows: &[Balance], kind: Kind) -> Vec<Balance> {
    rows.iter()
        .filter(|b| b.kind == kind.code() && (b.debit_minor != 0 || b.credit_minor != 0))
        .cloned()
        .collect()
}

fn total(rows: &[Balance]) -> Result<i64, ApiError> {
    checked_sum(rows.iter().map(|b| b.balance_minor)).map_err(overflow)
}

/// `a - b` for report totals.
fn less(a: i64, b: i64) -> Result<i64, ApiError> {
    a.checked_sub(b)
        .ok_or_else(|| overflow(MoneyError::Overflow))
}

/// Profit and loss for a period: income and expenses by account, and the net profit.
#[utoipa::path(get, path = "/api/v1/finance/profit-and-loss", tag = "finance", params(Period),
    security(("bearer" = [])),
    responses((status = 200, body = ProfitAndLoss),
              (status = 403, description = "`reach_beyond_own`: the whole tenant's books, by a user of some stores"), (status = 404, description = "`unknown_store`"),
              (status = 422, description = "`invalid_period`")))]
async fn profit_and_loss(
    State(pool): State<PgPool>,
    principal: Principal,
    Query(q): Query<Period>,
) -> Result<Json<ProfitAndLoss>, ApiError> {
    if q.from > q.to {
        return Err(Invalid::new("from", Code::InvalidPeriod, "from is after to").into());
    }
    let mut tx = begin(&pool, principal.tenant).await?;
    let books = books_of(&mut tx, &principal, q.store_id, "store_id").await?;
    let rows = store::balances(&mut tx, principal.tenant, Some(q.from), q.to, books).await?;
    tx.commit().await?;
    let (income, expenses) = (of_kind(&rows, Kind::Income), of_kind(&rows, Kind::Expense));
    let (income_minor, expenses_minor) = (total(&income)?, total(&expenses)?);
    Ok(Json(ProfitAndLoss {
        from: q.from,
        to: q.to,
        store_id: q.store_id,
        income,
        expenses,
        income_minor,
        expenses_minor,
        net_profit_minor: less(income_minor, expenses_minor)?,
    }))
}

/// The balance sheet.
#[derive(Debug, Serialize, Deserialize, ToSchema)]
pub(crate) struct BalanceSheet {
    as_of: NaiveDate,
    store_id: Option<Uuid>,
    assets: Vec<Balance>,
    liabilities: Vec<Balance>,
    equity: Vec<Balance>,
    assets_minor: i64,
    liabilities_minor: i64,
    equity_minor: i64,
    /// Income less expenses to date, not yet closed into retained earnings.
    current_earnings_minor: i64,
    /// Liabilities, equity and current earnings: equal to the assets.
    liabilities_and_equity_minor: i64,
}

/// The balance sheet as of a date: assets against liabilities, equity and the earnings
/// to date.
#[utoipa::path(get, path = "/api/v1/finance/balance-sheet", tag = "finance", params(AsOf),
    security(("bearer" = [])), responses((status = 200, body = BalanceSheet),
              (status = 403, description = "`reach_beyond_own`: the whole tenant's books, by a user of some stores"), (status = 404, description = "`unknown_store`")))]
async fn balance_sheet(
    State(pool): State<PgPool>,
    principal: Principal,
    Query(q): Query<AsOf>,
) -> Result<Json<BalanceSheet>, ApiError> {
    let as_of = q.as_of.unwrap_or_else(|| Utc::now().date_naive());
    let mut tx = begin(&pool, principal.tenant).await?;
    let books = books_of(&mut tx, &principal, q.store_id, "store_id").await?;
    let rows = store::balances(&mut tx, principal.tenant, None, as_of, books).await?;
    tx.commit().await?;
    let (assets, liabilities, equity) = (
        of_kind(&rows, Kind::Asset),
        of_kind(&rows, Kind::Liability),
        of_kind(&rows, Kind::Equity),
    );
    let earnings = less(
        total(&of_kind(&rows, Kind::Income))?,
        total(&of_kind(&rows, Kind::Expense))?,
    )?;
    let (assets_minor, liabilities_minor, equity_minor) =
        (total(&assets)?, total(&liabilities)?, total(&equity)?);
    Ok(Json(BalanceSheet {
        as_of,
        store_id: q.store_id,
        assets,
        liabilities,
        equity,
        assets_minor,
        liabilities_minor,
        equity_minor,
        current_earnings_minor: earnings,
        liabilities_and_equity_minor: checked_sum([liabilities_minor, equity_minor, earnings])
            .map_err(overflow)?,
    }))
}

/// An account's lines over a period.
#[derive(Deserialize, IntoParams)]
pub(crate) struct LedgerQuery {
    from: NaiveDate,
    to: NaiveDate,
    store_id: Option<Uuid>,
    /// `json` (default) or `csv`.
    format: Option<String>,
}

/// An account's ledger.
#[derive(Debug, Serialize, Deserialize, ToSchema)]
pub(crate) struct AccountLedger {
    code: String,
    name: String,
    kind: String,
    from: NaiveDate,
    to: NaiveDate,
    /// The balance before `from`, on the account's normal side.
    opening_minor: i64,
    lines: Vec<LedgerLine>,
    closing_minor: i64,
}

/// An account's ledger for a period, with the opening balance and a running balance.
#[utoipa::path(get, path = "/api/v1/finance/accounts/{code}/ledger", tag = "finance", params(LedgerQuery),
    security(("bearer" = [])),
    responses((status = 200, body = AccountLedger),
              (status = 403, description = "`reach_beyond_own`: the whole tenant's books, by a user of some stores"),
              (status = 404, description = "`not_found` (no such account), `unknown_store`"),
              (status = 422, description = "`invalid_period`, `invalid_format` (format is csv or json)")))]
async fn account_ledger(
    State(pool): State<PgPool>,
    principal: Principal,
    Path(code): Path<String>,
    Query(q): Query<LedgerQuery>,
) -> Result<Response, ApiError> {
    let csv = wants_csv(q.format.as_deref())?;
    if q.from > q.to {
        return Err(Invalid::new("from", Code::InvalidPeriod, "from is after to").into());
    }
    let tenant = principal.tenant;
    let mut tx = begin(&pool, tenant).await?;
    let books = books_of(&mut tx, &principal, q.store_id, "store_id").await?;
    let (name, kind) = store::account(&mut tx, tenant, &code)
        .await?
        .ok_or_else(|| ApiError::not_found(format!("no account {code}")))?;
    let sign = if Kind::parse(&kind).is_some_and(Kind::debit_normal) {
        1
    } else {
        -1
    };
    let (opening, mut lines) = store::ledger(&mut tx, tenant, &code, (q.from, q.to), books).await?;
    tx.commit().await?;
    let on_normal_side = |minor: i64| {
        minor
            .checked_mul(sign)
            .ok_or_else(|| overflow(MoneyError::Overflow))
    };
    let opening = on_normal_side(opening)?;
    let mut running = opening;
    for line in &mut lines {
        let change = on_normal_side(less(line.debit_minor, line.credit_minor)?)?;
        running = checked_sum([running, change]).map_err(overflow)?;
        line.balance_minor = running;
    }
    let ledger = AccountLedger {
        code,
        name,
        kind,
        from: q.from,
        to: q.to,
        opening_minor: opening,
        lines,
        closing_minor: running,
    };
    if !csv {
        return Ok(Json(ledger).into_response());
    }
    let mut rows = vec![csv_record(&[
        "date",
        "entry_id",
        "narration",
        "document",
        "store_id",
        "debit_minor",
        "credit_minor",
        "balance_minor",
    ])];
    rows.push(csv_record(&[
        &ledger.from.to_string(),
        "",
        "Opening balance",
        "",
        "",
        "",
        "",
        &ledger.opening_minor.to_string(),
    ]));
    for l in &ledger.lines {
        rows.push(csv_record(&[
            &l.posting_date.to_string(),
            &l.entry_id.to_string(),
            &l.narration,
            l.document.as_deref().unwrap_or(""),
            &l.store_id.map(|s| s.to_string()).unwrap_or_default(),
            &l.debit_minor.to_string(),
            &l.credit_minor.to_string(),
            &l.balance_minor.to_string(),
        ]));
    }
    Ok(csv_response(&format!("ledger-{}.csv", ledger.code), rows))
}

// ---------------------------------------------------------------- periods

/// A closed month.
#[derive(Debug, Serialize, Deserialize, ToSchema)]
pub(crate) struct PeriodClosed {
    /// YYYY-MM.
    month: String,
    closed_by: Uuid,
    closed_at: chrono::DateTime<Utc>,
}

/// Closes a month (`YYYY-MM`): nothing more is posted into it. Events that arrive later
/// are posted on the first day of the next open month.
#[utoipa::path(post, path = "/api/v1/finance/periods/{month}/close", tag = "finance",
    security(("bearer" = [])),
    responses((status = 201, body = PeriodClosed), (status = 409, description = "`period_closed`"),
              (status = 422, description = "`invalid_month`")))]
async fn close_period(
    State(pool): State<PgPool>,
    principal: Principal,
    Path(month): Path<String>,
) -> Result<(StatusCode, Json<PeriodClosed>), ApiError> {
    let first = NaiveDate::parse_from_str(&format!("{month}-01"), "%Y-%m-%d")
        .ok()
        .filter(|_| month.len() == 7)
        .ok_or_else(|| Invalid::new("month", Code::InvalidMonth, "YYYY-MM"))?;
    let tenant = principal.tenant;
    let mut tx = begin(&pool, tenant).await?;
    let now = Utc::now();
    let event = events::finance::PeriodClosed {
        tenant_id: tenant,
        month: month.clone(),
        closed_by: principal.user,
        closed_at: now.timestamp_millis(),
    };
    if !store::close_period(&mut tx, first, &event).await? {
        return Err(ApiError::new(
            Code::PeriodClosed,
            format!("{month} is already closed"),
        ));
    }
    tx.commit().await?;
    Ok((
        StatusCode::CREATED,
        Json(PeriodClosed {
            month,
            closed_by: principal.user,
            closed_at: now,
        }),
    ))
}

// ---------------------------------------------------------------- CSV

fn wants_csv(format: Option<&str>) -> Result<bool, ApiError> {
    match format {
        None | Some("json") => Ok(false),
        Some("csv") => Ok(true),
        Some(_) => Err(Invalid::new("format", Code::InvalidFormat, "json or csv").into()),
    }
}

fn csv_record(fields: &[&str]) -> Vec<u8> {
    let mut writer = csv::Writer::from_writer(Vec::new());
    // Writing to memory cannot fail.
    let _ = writer.write_record(fields);
    writer.into_inner().unwrap_or_default()
}

fn csv_response(name: &str, rows: Vec<Vec<u8>>) -> Response {
    (
        [
            (header::CONTENT_TYPE, "text/csv; charset=utf-8".to_owned()),
            (
                header::CONTENT_DISPOSITION,
                format!("attachment; filename=\"{name}\""),
            ),
        ],
        rows.concat(),
    )
        .into_response()
}

/// A GST return's month and registration.
#[derive(Deserialize, IntoParams)]
pub(crate) struct ReturnPeriod {
    /// `YYYY-MM`.
    month: String,
    /// The registration; may be left out when the tenant has issued invoices under one
    /// GSTIN only.
    gstin: Option<String>,
    /// GSTR-1 only: inter-state B2C invoices above this total are B2C large. Default
    /// ₹1,00,000.
    b2cl_threshold_minor: Option<i64>,
}

/// The month's first and last days, and the GSTIN the return is for.
async fn return_period(
    tx: &mut PgConnection,
    tenant: Uuid,
    q: &ReturnPeriod,
) -> Result<(NaiveDate, NaiveDate, String), ApiError> {
    let first = NaiveDate::parse_from_str(&format!("{}-01", q.month), "%Y-%m-%d")
        .ok()
        .filter(|_| q.month.len() == 7)
        .ok_or_else(|| Invalid::new("month", Code::InvalidMonth, "YYYY-MM"))?;
    let last = first
        .checked_add_months(chrono::Months::new(1))
        .and_then(|d| d.pred_opt())
        .unwrap_or(first);
    let gstin = match q.gstin.as_deref() {
        Some(gstin) => bazaar_platform::gst::gstin("gstin", gstin)?,
        None => {
            let known = gst::gstins(tx, tenant).await?;
            match <[String; 1]>::try_from(known) {
                Ok([only]) => only,
                Err(known) => {
                    return Err(Invalid::new(
                        "gstin",
                        Code::GstinRequired,
                        format!("name the GSTIN; invoices were issued under {known:?}"),
                    )
                    .into())
                }
            }
        }
    };
    Ok((first, last, gstin))
}

/// GSTR-1 for a month and GSTIN: B2B invoices, B2C large invoices, B2C small supplies by
/// state and rate, credit notes (registered and B2C large), the HSN summary and the
/// document counts. Voided invoices are counted, not reported.
#[utoipa::path(get, path = "/api/v1/finance/gst/gstr1", tag = "finance", params(ReturnPeriod),
    security(("bearer" = [])),
    responses((status = 200, body = gst::Gstr1),
              (status = 403, description = "`reach_beyond_own`: a return covers every store, so needs access to every store"),
              (status = 422, description = "`invalid_month`, `invalid_gstin`, `gstin_required`, `invalid_threshold`")))]
async fn gstr1(
    State(pool): State<PgPool>,
    principal: Principal,
    Query(q): Query<ReturnPeriod>,
) -> Result<Json<gst::Gstr1>, ApiError> {
    let threshold = q.b2cl_threshold_minor.unwrap_or(gst::B2CL_THRESHOLD_MINOR);
    if threshold < 0 {
        return Err(Invalid::new(
            "b2cl_threshold_minor",
            Code::InvalidThreshold,
            "cannot be negative",
        )
        .into());
    }
    let tenant = principal.tenant;
    let mut tx = db::begin_for_tenant(&pool, tenant).await?;
    books_of(&mut tx, &principal, None, "gstin").await?;
    let (from, to, gstin) = return_period(&mut tx, tenant, &q).await?;
    let documents = gst::outward(&mut tx, tenant, &gstin, from, to).await?;
    tx.commit().await?;
    Ok(Json(gst::gstr1(&gstin, &q.month, &documents, threshold)))
}

/// GSTR-3B for a month and GSTIN: outward supplies net of credit notes (table 3.1), the
/// input tax credit of goods delivered in the GSTIN's state less what returns to vendors
/// reversed (table 4), and the tax to pay after the credit is set off (table 6.1).
#[utoipa::path(get, path = "/api/v1/finance/gst/gstr3b", tag = "finance", params(ReturnPeriod),
    security(("bearer" = [])),
    responses((status = 200, body = gst::Gstr3b),
              (status = 403, description = "`reach_beyond_own`: a return covers every store, so needs access to every store"),
              (status = 422, description = "`invalid_month`, `invalid_gstin`, `gstin_required`")))]
async fn gstr3b(
    State(pool): State<PgPool>,
    principal: Principal,
    Query(q): Query<ReturnPeriod>,
) -> Result<Json<gst::Gstr3b>, ApiError> {
    let tenant = principal.tenant;
    let mut tx = db::begin_for_tenant(&pool, tenant).await?;
    books_of(&mut tx, &principal, None, "gstin").await?;
    let (from, to, gstin) = return_period(&mut tx, tenant, &q).await?;
    let outward = gst::outward(&mut tx, tenant, &gstin, from, to).await?;
    let inward = gst::inward(&mut tx, tenant, &gstin[..2], from, to).await?;
    tx.commit().await?;
    Ok(Json(gst::gstr3b(&gstin, &q.month, &outward, &inward)))
}
